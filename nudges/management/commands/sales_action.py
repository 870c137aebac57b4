"""`manage.py sales_action`: the seed's `sales-action` command line, same words.

    sales_action recommend DEAL_ID [-c TEXT] [-o results.json] [-m strategy.md] [--prompt-file F]
                                   [--force-refresh] [-v]
    sales_action feedback RECOMMENDATION_ID --type positive|negative|neutral --text TEXT
                          [--worked ..] [--didnt-work ..] [--improvement ..] [--deal-id ..]
                          [--priority P0|P1|P2] [--channel email|phone|linkedin|whatsapp] [-v]
    sales_action cache-info [--team SLUG]
    sales_action cache-clear --yes [--team SLUG]
    sales_action context-init [--team SLUG] [--force] [--export PATH]
    sales_action context-export [--team SLUG] [--output PATH]
    sales_action context-import FILE [--team SLUG]
    sales_action recommend-all [--team SLUG] [--stage S] [--owner EMAIL] [--stale-only] [-c TEXT]
                               [--limit N] [--mode auto|batch|sync]

DEAL_ID is our id or the deal's external id. Exit codes: 0 done, 1 refused (bad option or file;
recommend-all: a team's run already active, or a run failed), 2 unknown deal or recommendation
(recommend-all: no open deal matches the filters).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from crm.models import Team
from nudges import context, feedback, plan_render, plan_runs, plans
from nudges.models import Learning, Plan, PlanRun
from nudges.plan_errors import PlanError

EXIT_REFUSED = 1
EXIT_NOT_FOUND = 2


class Command(BaseCommand):
    help = "AI sales action recommendations: P0/P1/P2 plans per deal, feedback, cache and company context."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")

        rec = sub.add_parser("recommend", help="Recommend next actions for a deal.")
        rec.add_argument("deal_id", metavar="DEAL_ID", help="Our deal id or the deal's external id.")
        rec.add_argument("--campaign-context", "-c", default="", help="Additional campaign context.")
        rec.add_argument("--output", "-o", help="Save JSON output to this file.")
        rec.add_argument("--markdown", "-m", help="Save the markdown strategy to this file.")
        rec.add_argument("--prompt-file", "--prompt", dest="prompt_file", help="Custom prompt template file.")
        rec.add_argument("--force-refresh", action="store_true", help="Bypass the cache and regenerate.")
        rec.add_argument("--verbose", "-v", action="store_true", dest="verbose", help="Verbose logging.")

        fb = sub.add_parser("feedback", help="Give feedback on a recommendation.")
        fb.add_argument("recommendation_id", metavar="RECOMMENDATION_ID")
        fb.add_argument("--type", "-t", required=True, choices=["positive", "negative", "neutral"])
        fb.add_argument("--text", required=True, help="Feedback description.")
        fb.add_argument("--worked", default="", help="What worked well.")
        fb.add_argument("--didnt-work", default="", dest="didnt_work", help="What didn't work.")
        fb.add_argument("--improvement", default="", help="Suggested improvement.")
        fb.add_argument("--deal-id", default=None, help="Associated deal id (checked against the recommendation).")
        fb.add_argument("--priority", default="P0", choices=["P0", "P1", "P2"])
        fb.add_argument("--channel", default="email", choices=["email", "phone", "linkedin", "whatsapp"])
        fb.add_argument("--verbose", "-v", action="store_true", dest="verbose")

        many = sub.add_parser("recommend-all", help="Plan my pipeline: plans for many open deals in one run.")
        many.add_argument("--team", help="Team slug (default: every team, one run each).")
        many.add_argument("--stage", help="Only deals in this stage (slug or name).")
        many.add_argument("--owner", help="Only deals owned by this team member (email or username).")
        many.add_argument("--stale-only", action="store_true", help="Only stale deals (with an open nudge).")
        many.add_argument("--campaign-context", "-c", default="", help="Additional campaign context.")
        many.add_argument("--limit", type=int, help="At most N deals per team, biggest first.")
        many.add_argument("--mode", choices=PlanRun.Mode.values, default=PlanRun.Mode.AUTO,
                          help="auto: a model batch for big runs when the model has one; batch; sync.")  # fmt: skip

        info = sub.add_parser("cache-info", help="Cache statistics.")
        info.add_argument("--team", help="Team slug (default: all teams).")
        clear = sub.add_parser("cache-clear", help="Clear all cached recommendations.")
        clear.add_argument("--yes", action="store_true", help="Confirm.")
        clear.add_argument("--team", help="Team slug (default: all teams).")

        init = sub.add_parser("context-init", help="Create the company context from the default template.")
        init.add_argument("--team", help="Team slug (default: every team without a context).")
        init.add_argument("--force", action="store_true", help="Reset to the default template as a new version.")
        init.add_argument("--export", help="Also write the context to this markdown file.")
        exp = sub.add_parser("context-export", help="Write the company context as markdown.")
        exp.add_argument("--team", help="Team slug (default: the first team).")
        exp.add_argument("--output", "-o", help="File (default: standard output).")
        imp = sub.add_parser("context-import", help="Replace the company context with a markdown file.")
        imp.add_argument("file", metavar="FILE")
        imp.add_argument("--team", help="Team slug (default: the first team).")

    def handle(self, *args, subcommand, **options):
        self.console = Console(file=self.stdout, highlight=False, width=110, soft_wrap=False)
        if options.get("verbose"):
            logging.getLogger("nudges").setLevel(logging.DEBUG)
            logging.getLogger("llm").setLevel(logging.DEBUG)
        handler = getattr(self, "do_" + subcommand.replace("-", "_"))
        try:
            handler(**options)
        except PlanError as exc:
            code = EXIT_NOT_FOUND if exc.code == "not_found" else EXIT_REFUSED
            raise CommandError(exc.message, returncode=code) from exc

    # --- helpers ---------------------------------------------------------------------------

    def _teams(self, slug: str | None, *, one: bool = False) -> list[Team]:
        teams = Team.objects.all()
        if slug:
            teams = teams.filter(slug=slug)
            if not teams.exists():
                known = ", ".join(Team.objects.values_list("slug", flat=True)) or "none"
                raise CommandError(f"No team {slug!r} (known: {known}).", returncode=EXIT_REFUSED)
        teams = list(teams)
        if not teams:
            raise CommandError("There is no team yet.", returncode=EXIT_REFUSED)
        return teams[:1] if one else teams

    def _write(self, path: str, text: str, what: str) -> None:
        try:
            Path(path).expanduser().write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot write {what} to {path}: {exc.strerror}", returncode=EXIT_REFUSED) from exc
        self.console.print(f"💾 {what} saved to {path}")

    # --- recommend -------------------------------------------------------------------------

    def do_recommend(self, *, deal_id, campaign_context, output, markdown, prompt_file, force_refresh, verbose, **_):
        template_text = None
        if prompt_file:
            path = Path(prompt_file).expanduser()
            if not path.is_file():
                raise CommandError(f"Prompt file {prompt_file} does not exist.", returncode=EXIT_REFUSED)
            try:
                template_text = path.read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(
                    f"Prompt file {prompt_file} cannot be read as UTF-8 text: {exc}", returncode=EXIT_REFUSED
                ) from exc
            problems = context.template_problems(template_text)
            if problems:
                raise CommandError(
                    f"Prompt file {prompt_file} refused: " + "; ".join(problems), returncode=EXIT_REFUSED
                )
        deal = plans.resolve_deal(deal_id)
        plan, cached = plans.plan_for_deal(
            deal=deal, campaign_context=campaign_context, force_refresh=force_refresh, template_text=template_text
        )
        plan = Plan.objects.select_related("deal", "context_version").prefetch_related("items").get(pk=plan.pk)
        self._print_plan(plan, cached, verbose)
        if output:
            self._write(
                output, json.dumps(plan_render.plan_json(plan, cached=cached), indent=2, default=str), "JSON output"
            )
        if markdown:
            self._write(markdown, plan_render.plan_markdown(plan), "Markdown strategy")

    def _print_plan(self, plan: Plan, cached: bool, verbose: bool) -> None:
        items = plan.items_by_priority()
        s = plan.situation or {}
        table = Table(title="Recommendation Overview", show_header=False)
        table.add_column("Field", style="bold")
        table.add_column("Value")
        rows = [
            ("Recommendation", plan.public_id),
            ("Deal", plan.deal.name),
            ("Contact", plan.summary.get("primary_contact") or "—"),
            ("Engagement Level", s.get("engagement_level", "")),
            ("Deal Stage", plan.deal.stage.name),
            ("P0 Actions", str(len(items["P0"]))),
            ("P1 Actions", str(len(items["P1"]))),
            ("P2 Actions", str(len(items["P2"]))),
            ("Company context", plan.context_version.version if plan.context_version else "—"),
            (
                "Source",
                ("cache" if cached else "generated")
                + (" · offline writer" if plan.provenance.get("offline", True) else ""),
            ),
        ]
        for k, v in rows:
            table.add_row(k, v)
        self.console.print(table)
        if verbose:
            for name in ("deal", "summary", "prompt", "context", "campaign"):
                self.console.print(f"  {name}_hash: {getattr(plan, name + '_hash')}")
            if plan.provenance.get("fixes"):
                self.console.print(f"  fixes: {', '.join(plan.provenance['fixes'])}")
        self.console.print("\n📊 Situation Analysis", style="bold")
        self.console.print(f"- Engagement Level: {s.get('engagement_level', '')}")
        self.console.print(f"- Last Interaction: {s.get('last_interaction', '')}")
        self.console.print(f"- Key Themes: {', '.join(s.get('key_themes') or []) or 'none'}")
        for priority, heading in plan_render.HEADINGS.items():
            self.console.print(f"\n{heading}", style="bold")
            for item in items[priority]:
                self.console.print(
                    Panel(
                        "\n".join(plan_render.item_markdown(item)).strip(),
                        title=f"{item.priority} #{item.pk}",
                        expand=True,
                    )
                )

    # --- recommend-all ---------------------------------------------------------------------

    def do_recommend_all(self, *, team, stage, owner, stale_only, campaign_context, limit, mode, **_):
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1.", returncode=EXIT_REFUSED)
        stage_obj = plan_runs.resolve_stage(stage)
        teams = self._teams(team)
        choices = {}
        for t in teams:
            try:
                who = plan_runs.resolve_owner(owner, t)
            except PlanError:
                if team:
                    raise
                continue  # without --team: only the teams the owner is in
            choices[t] = plan_runs.Choice(stage=stage_obj, owner=who, stale_only=stale_only, limit=limit)
        if not choices:
            raise CommandError(f"{owner!r} is not a member of any team.", returncode=EXIT_REFUSED)
        busy = [r for r in (plan_runs.active_run(t) for t in choices) if r is not None]
        if busy:
            raise CommandError(plan_runs.busy(busy[0]).message, returncode=EXIT_REFUSED)
        runs, started = [], time.perf_counter()
        for t, choice in choices.items():
            try:
                runs.append(
                    plan_runs.start_run(
                        team=t, choice=choice, campaign_context=campaign_context, mode=mode, enqueue=False
                    )
                )
            except PlanError as exc:
                if exc.code == "conflict":
                    raise
                self.console.print(f"ℹ️  {t.slug}: {exc.message}")
        if not runs:
            raise CommandError("No open deal matches these filters: nothing to plan.", returncode=EXIT_NOT_FOUND)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=self.console, transient=False) as bar:
            for run in runs:
                task = bar.add_task(f"{run.team.slug} (run {run.pk})", total=run.deals)
                plan_runs.carry_out(run.pk, progress=lambda done, total, task=task: bar.update(task, completed=done))
        runs = list(PlanRun.objects.filter(pk__in=[r.pk for r in runs]).select_related("team").order_by("pk"))
        self._print_runs(runs, time.perf_counter() - started)
        failed = [r for r in runs if r.status != PlanRun.Status.DONE]
        if failed:
            raise CommandError(
                "; ".join(f"run {r.pk} ({r.team.slug}) {r.status}: {r.error}" for r in failed), returncode=EXIT_REFUSED
            )

    def _print_runs(self, runs: list[PlanRun], elapsed: float) -> None:
        table = Table(title="Pipeline Recommendation Summary")
        table.add_column("Team", style="bold")
        for label in ("Run", "Status", "Deals", "Written", "Cached", "In flight", "Submitted", "Failed", "Model calls"):
            table.add_column(label, justify="right")
        total = {k: 0 for k in ("deals", "written", "cached", "in_flight", "submitted", "failed", "model_calls")}
        for r in runs:
            for k in total:
                total[k] += getattr(r, k)
            table.add_row(r.team.slug, str(r.pk), r.status, *(str(getattr(r, k)) for k in total))
        if len(runs) > 1:
            table.add_row("all", "", "", *(str(v) for v in total.values()), style="bold")
        self.console.print(table)
        rate = total["deals"] / elapsed if elapsed > 0 else 0.0
        self.console.print(f"⏱  {total['deals']} deals in {elapsed:.1f}s ({rate:,.0f} deals/s)")
        for r in runs:
            self.console.print(f"🔗 {r.team.slug}: {r.get_absolute_url()}")

    # --- feedback --------------------------------------------------------------------------

    def do_feedback(
        self, *, recommendation_id, type, text, worked, didnt_work, improvement, deal_id, priority, channel, **_
    ):
        plan = Plan.objects.select_related("deal").filter(public_id=recommendation_id).first()
        if plan is None:
            raise CommandError(
                f"Unknown recommendation id {recommendation_id!r}: run `recommend` first.", returncode=EXIT_NOT_FOUND
            )
        if deal_id is not None and plans.resolve_deal(deal_id).pk != plan.deal_id:
            raise CommandError(
                f"Recommendation {recommendation_id} is for deal {plan.deal_id}, not {deal_id}.",
                returncode=EXIT_REFUSED,
            )
        item = plan.items.filter(priority=priority, channel=channel).order_by("position").first()
        fb = feedback.record_feedback(
            plan=plan, actor=None, item=item, type=type, text=text, worked=worked, didnt_work=didnt_work,
            improvement=improvement, priority=priority, channel=channel,
        )  # fmt: skip
        learning = Learning.objects.select_related("result_version").get(feedback=fb)
        self.console.print(f"✅ Feedback #{fb.pk} logged ({type}, {priority} {channel}) for {plan.public_id}")
        if learning.status == Learning.Status.ACCEPTED:
            self.console.print(
                f"📘 Learning: {learning.text}\n   Added to: {learning.section}\n   Context version: {learning.base_version.version} → {learning.result_version.version}"
            )
        elif learning.status == Learning.Status.PROPOSED:
            self.console.print(
                f"📘 Learning: {learning.text}\n   Proposed for: {learning.section} (waiting for a manager's approval in Settings → Action plans)"
            )
        else:
            self.console.print(f"ℹ️  No new learning: {learning.reason}")

    # --- cache -----------------------------------------------------------------------------

    def do_cache_info(self, *, team, **_):
        team_ids = [t.pk for t in self._teams(team)] if team else None
        stats = plans.cache_stats(team_ids)
        table = Table(title="Cache Statistics", show_header=False)
        for label, key in (("Total recommendations", "total"), ("Fresh (valid)", "fresh"), ("Expired (stale)", "expired"),
                           ("Feedback logged", "feedback_logged"), ("Context updates", "context_updates")):  # fmt: skip
            table.add_row(label, str(stats[key]))
        table.add_row("TTL", f"{stats['ttl_minutes']} minutes")
        self.console.print(table)

    def do_cache_clear(self, *, yes, team, **_):
        if not yes:
            raise CommandError(
                "This clears every cached recommendation: add --yes to confirm.", returncode=EXIT_REFUSED
            )
        team_ids = [t.pk for t in self._teams(team)] if team else None
        self.console.print(f"🗑  Cleared {plans.clear_cache(team_ids)} cached recommendation(s).")

    # --- company context -------------------------------------------------------------------

    def do_context_init(self, *, team, force, export, **_):
        for t in self._teams(team):
            version = context.init_context(team_id=t.pk, force=force)
            self.console.print(
                f"📄 {t.slug}: company context {version.version} ({version.get_source_display().lower()})"
            )
            if export:
                self._write(export, context.as_markdown(version), f"Company context of {t.slug}")

    def do_context_export(self, *, team, output, **_):
        version = context.current(self._teams(team, one=True)[0].pk)
        text = context.as_markdown(version)
        if output:
            self._write(output, text, "Company context")
        else:
            self.stdout.write(text, ending="")

    def do_context_import(self, *, file, team, **_):
        path = Path(file).expanduser()
        if not path.is_file():
            raise CommandError(f"File {file} does not exist.", returncode=EXIT_REFUSED)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CommandError(f"{file} is not UTF-8 text (byte {exc.start}).", returncode=EXIT_REFUSED) from exc
        t = self._teams(team, one=True)[0]
        try:
            version = context.import_markdown(team_id=t.pk, text=text, actor=None)
        except PlanError as exc:
            raise CommandError(
                f"{file}: {exc.message}; the stored context is unchanged.", returncode=EXIT_REFUSED
            ) from exc
        self.console.print(f"📄 {t.slug}: company context is now {version.version}")
