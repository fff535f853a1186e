// Typeset the formulas that pymdownx.arithmatex (generic mode) leaves in
// <span/div class="arithmatex"> as \( ... \) and \[ ... \], with the vendored KaTeX
// (docs/javascripts/katex/, fetched by docs/javascripts/vendor.sh). Material's
// document$ fires on every page load.
document$.subscribe(({ body }) => {
  for (const element of body.querySelectorAll(".arithmatex")) {
    renderMathInElement(element, {
      delimiters: [
        { left: "\\(", right: "\\)", display: false },
        { left: "\\[", right: "\\]", display: true },
      ],
      throwOnError: false,
    });
  }
});
