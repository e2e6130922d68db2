// The code editor of the exercise page: CodeMirror 6 with Python highlighting and Tab
// indentation, bundled into one offline file (grader/static/vendor/editor.js).
// It replaces a <textarea> and keeps it up to date, so the form still posts the code.
import { basicSetup } from "codemirror";
import { EditorView, keymap } from "@codemirror/view";
import { EditorState } from "@codemirror/state";
import { indentWithTab } from "@codemirror/commands";
import { defaultHighlightStyle, indentUnit, syntaxHighlighting } from "@codemirror/language";
import { classHighlighter } from "@lezer/highlight";
import { python } from "@codemirror/lang-python";

const theme = EditorView.theme({
  "&": { fontSize: "14px", border: "1px solid var(--border, #d0d7de)", borderRadius: "6px",
         backgroundColor: "#fff" },
  "&.cm-focused": { outline: "2px solid var(--accent, #2563eb)", outlineOffset: "1px" },
  ".cm-scroller": { fontFamily: "var(--mono, ui-monospace, SFMono-Regular, Menlo, monospace)",
                    minHeight: "16em", maxHeight: "36em", lineHeight: "1.5" },
  ".cm-gutters": { backgroundColor: "#f6f8fa", borderRight: "1px solid #d0d7de",
                   color: "#6e7781", borderTopLeftRadius: "6px", borderBottomLeftRadius: "6px" },
});

function mount(textarea) {
  const view = new EditorView({
    state: EditorState.create({
      doc: textarea.value,
      extensions: [
        basicSetup,
        keymap.of([indentWithTab]),
        indentUnit.of("    "),
        EditorState.tabSize.of(4),
        python(),
        syntaxHighlighting(defaultHighlightStyle),
        syntaxHighlighting(classHighlighter),  // stable tok-* classes beside the colours
        theme,
        EditorView.contentAttributes.of({ "aria-label": textarea.getAttribute("aria-label") || "Code" }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) textarea.value = update.state.doc.toString();
        }),
      ],
    }),
  });
  textarea.style.display = "none";
  textarea.insertAdjacentElement("afterend", view.dom);
  return {
    view,
    getValue: () => view.state.doc.toString(),
    setValue: (text) => {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    },
    focus: () => view.focus(),
  };
}

window.GraderEditor = { mount };
