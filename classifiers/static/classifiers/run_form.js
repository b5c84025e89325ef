// The new-run form: show the cascade stage fields only while the strategy is "cascade" (or they hold errors).
const form = document.getElementById("run-form");
const strategy = form ? form.querySelector("select[name=strategy]") : null;
const stages = document.getElementById("cascade-stages");
if (strategy && stages) {
  const sync = () => {
    stages.hidden = strategy.value !== "cascade" && !stages.querySelector(".errorlist");
  };
  strategy.addEventListener("change", sync);
  sync();
}
