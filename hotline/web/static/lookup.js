/* The lookup form works without this script; with it, the digits field keeps digits only,
   the code is tidied as it is typed, and an answer is brought into view and read out. */
(function () {
  "use strict";
  const code = document.getElementById("lookup-code");
  const last4 = document.getElementById("lookup-last4");
  last4.addEventListener("input", function () {
    const digits = last4.value.replace(/\D/g, "").slice(0, 4);
    if (digits !== last4.value) last4.value = digits;
  });
  code.addEventListener("change", function () {
    code.value = code.value.replace(/\s+/g, "").toUpperCase();
  });
  const answer = document.getElementById("lookup-result") || document.getElementById("lookup-error");
  if (answer) {
    answer.scrollIntoView({ block: "start" });
    if (answer.id === "lookup-result") answer.focus();
  } else {
    code.focus();
  }
})();
