"""Ordinary English words that open a sentence in a draft, a nudge or a reply.

A capitalised word at the start of a sentence is capitalised because of where it stands, not because
it is a name: "Ask Sam about the renewal" names Sam, not "Ask Sam". `guardrails.find_invented` drops
such a word from a name before checking it. The list is what support and sales text opens
sentences with: imperatives, adverbs and connectives, pronouns and determiners, question words,
modals, prepositions. Words that are at least as often first names ("Frank", "Grant", "Bob", "Rob",
"Drew", "Jack", "Bill", "Mark", "Rose") are left out on purpose: at the start of a sentence they are
more likely a person than an ordinary word; "Will" and "May" stay, as modals open questions ("Will
you be free on Tuesday?") far more often than those names open a sentence.
"""

ORDINARY_OPENERS = frozenset(
    """
    accept access acknowledge act add address adjust advise agree aim align allow answer apologise
    apply approve arrange ask assess assign attach avoid book bring build call cancel capture
    celebrate change check choose clarify close collect compare complete confirm connect consider
    contact continue convert create decide deliver describe discuss document double draft email
    emphasise encourage end ensure escalate establish estimate explain explore extend find finish
    fix flag focus follow forward gather get give go greet handle help highlight identify include
    inform introduce invite keep lead learn leave let limit link list listen log look loop make
    map mention message move name note notify offer open organise outline pause phone pick plan
    point post prepare present prioritise propose provide push put qualify quote reach read
    reassure recap recommend record reduce refer refund register reiterate remind remove renew
    reopen repeat reply report request resend reserve resolve respond restate resume return review
    revisit run save schedule secure see send set settle share show sign skip speak start state
    stay stress submit suggest summarise support switch take talk tell test text thank tie track
    try turn update upgrade use validate verify visit wait walk warn welcome write
    ping nudge chase ring drop sync circle brief coordinate reconnect engage hand pass warm
    target prod poke hold hear win lock
    about above according actually additionally after afterwards again ago ahead all already
    alternatively although always among another any anyway apart around because before below
    besides between both briefly but by currently despite during each earlier either else
    equally especially even eventually every everyone everything finally first firstly for
    from fortunately frankly further furthermore given happily hence honestly hopefully how however
    ideally importantly in including indeed initially instead it its just later lastly likewise
    meanwhile moreover most much naturally nevertheless next no none nonetheless nor not nothing
    now of often once only or other otherwise overall perhaps personally possibly previously
    quickly rather really recently regarding regardless right second secondly separately shortly
    similarly simply since so some someone something sometimes soon still such sure then thereafter
    therefore third thirdly though thus together too typically ultimately unfortunately unless
    unlike until upon usually what whatever when whenever where whereas whether which while who
    whoever whom whose why within without yet never anything elsewhere happy glad hard plain
    with the a an also as at if on to into onto off out over under up via
    can could did do does had has have is may might must shall should was were will would
    are be been being am
    absolutely apologies certainly congratulations great hello hi ok okay sorry well wow
    here there those these this that their them they his her him our ours your yours my mine
    we us you he she i me one nobody anybody anyone
    """.split()
)
