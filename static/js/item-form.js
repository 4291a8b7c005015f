// Item form: show only the settings of the chosen kind of answer. Without this script every setting is shown
// and the server keeps only those of the chosen kind.
const form = document.querySelector(".item-form");

if (form) {
  const typeSelect = form.querySelector("select[name=type]");
  const settings = [...form.querySelectorAll(".type-setting[data-types]")];
  const nothingToSet = form.querySelector(".no-settings");

  const update = () => {
    let shown = 0;
    for (const setting of settings) {
      const relevant = setting.dataset.types.split(" ").includes(typeSelect.value);
      setting.hidden = !relevant;
      shown += relevant ? 1 : 0;
    }
    nothingToSet.hidden = shown > 0;
  };

  form.classList.add("js");
  typeSelect.addEventListener("change", update);
  update();
}
