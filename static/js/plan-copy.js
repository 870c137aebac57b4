// Action plans: a "Copy" button copies the content of the field it names (data-copy="<field id>").
// A static file, not an inline script: the Content-Security-Policy allows scripts from 'self' only.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var field = document.getElementById(button.dataset.copy);
  if (field && navigator.clipboard) {
    navigator.clipboard.writeText(field.value);
    button.textContent = "Copied";
  }
});
