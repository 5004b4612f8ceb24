// An accessible type-ahead combobox over taxonomy entries (ARIA 1.2 combobox with a listbox popup).

import { lang, t } from "./i18n.js";

let counter = 0;

// Kazakh letters fold onto their nearest Russian ones, so "кар" finds "қар" and "онир" finds "өңір".
const FOLD = { "ә": "а", "ғ": "г", "қ": "к", "ң": "н", "ө": "о", "ұ": "у", "ү": "у", "һ": "х", "і": "и", "ё": "е" };

/** Lower-case, Kazakh-folded text for matching. */
export function fold(text) {
  return String(text || "")
    .toLowerCase()
    .replace(/[әғқңөұүһіё]/g, (c) => FOLD[c]);
}

export class Combobox {
  /**
   * @param {HTMLInputElement} input  the text box (keeps its id, so its <label for> still names it)
   * @param {{options: () => Array<{id: string, ru: string, kk: string}>, onCommit?: (id: string|null) => void,
   *          allowEmpty?: boolean, showId?: boolean, preferred?: () => string[]}} opts
   */
  constructor(input, { options, onCommit = () => {}, allowEmpty = true, showId = false, preferred = () => [] }) {
    this.input = input;
    this.getOptions = options;
    this.getPreferred = preferred;
    this.onCommit = onCommit;
    this.allowEmpty = allowEmpty;
    this.showId = showId;
    this._value = null;
    this.matches = [];
    this.active = -1;

    const wrap = document.createElement("div");
    wrap.className = "combo";
    input.replaceWith(wrap);
    wrap.append(input);
    this.list = document.createElement("ul");
    this.list.id = `lb-${++counter}`;
    this.list.setAttribute("role", "listbox");
    this.list.hidden = true;
    wrap.append(this.list);

    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", this.list.id);
    input.autocomplete = "off";
    input.spellcheck = false;

    input.addEventListener("focus", () => input.select());
    input.addEventListener("input", () => this.open(input.value));
    input.addEventListener("keydown", (e) => this.onKey(e));
    input.addEventListener("blur", () => this.onBlur());
    this.list.addEventListener("mousedown", (e) => e.preventDefault());
    this.list.addEventListener("click", (e) => {
      const li = e.target.closest("li[data-id]");
      if (li) this.commit(li.dataset.id === "" ? null : li.dataset.id);
    });
  }

  label(id) {
    if (id === null || id === undefined || id === "") return "";
    const entry = this.getOptions().find((o) => o.id === id);
    if (!entry) return String(id);
    const name = lang() === "kk" ? entry.kk : entry.ru;
    return this.showId && id !== "none" ? `${id} · ${name}` : name;
  }

  get value() {
    return this._value;
  }

  /** Set the value without telling onCommit (e.g. a proposal arrived). */
  set value(id) {
    this._value = id === undefined || id === "" ? null : id;
    this.input.value = this.label(this._value);
    this.input.dataset.value = this._value ?? "";
  }

  /** Redraw the shown text after a UI language switch. */
  refresh() {
    this.value = this._value;
  }

  filter(text) {
    const q = fold(text).trim();
    const all = this.getOptions();
    if (!q || q === fold(this.label(this._value))) {
      // Nothing typed: the model's proposal and alternatives first, then the rest in taxonomy order.
      const first = this.getPreferred().map((id) => all.find((o) => o.id === id)).filter(Boolean);
      return [...first, ...all.filter((o) => !first.includes(o))];
    }
    const starts = [];
    const contains = [];
    for (const o of all) {
      const hay = [o.ru, o.kk, o.id].map(fold);
      if (hay.some((s) => s.startsWith(q))) starts.push(o);
      else if (hay.some((s) => s.includes(q))) contains.push(o);
    }
    return [...starts, ...contains];
  }

  open(text) {
    this.matches = this.filter(text ?? "");
    if (this.allowEmpty && !(text || "").trim()) this.matches = [...this.matches, { id: "", ru: t("combo.clear"), kk: t("combo.clear") }];
    this.active = this.matches.length ? Math.max(0, this.matches.findIndex((o) => o.id === (this._value ?? ""))) : -1;
    if ((text || "").trim() && this.matches.length) this.active = 0;
    this.render();
  }

  close() {
    this.list.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  }

  render() {
    this.list.replaceChildren();
    if (!this.matches.length) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = t("combo.nomatch");
      li.setAttribute("aria-disabled", "true");
      this.list.append(li);
    }
    this.matches.forEach((o, i) => {
      const li = document.createElement("li");
      li.id = `${this.list.id}-${i}`;
      li.setAttribute("role", "option");
      li.dataset.id = o.id;
      const name = lang() === "kk" ? o.kk : o.ru;
      li.textContent = this.showId && o.id && o.id !== "none" ? `${o.id} · ${name}` : name;
      li.setAttribute("aria-selected", String(i === this.active));
      this.list.append(li);
    });
    this.list.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
    if (this.active >= 0) {
      const el = this.list.children[this.active];
      this.input.setAttribute("aria-activedescendant", el.id);
      el.scrollIntoView({ block: "nearest" });
    }
  }

  move(delta) {
    if (this.list.hidden) {
      this.open("");
      return;
    }
    if (!this.matches.length) return;
    this.active = (this.active + delta + this.matches.length) % this.matches.length;
    this.render();
  }

  commit(id) {
    const changed = (id ?? null) !== this._value;
    this.value = id;
    this.close();
    if (changed) this.onCommit(this._value);
  }

  /** Resolve what was typed into a value (used on blur, Tab and Ctrl+Enter). */
  settle() {
    const text = this.input.value.trim();
    if (!this.list.hidden && this.active >= 0 && this.matches[this.active] && text !== this.label(this._value)) {
      const id = this.matches[this.active].id;
      this.commit(id === "" ? null : id);
      return;
    }
    if (!text) {
      if (this.allowEmpty) this.commit(null);
      else this.value = this._value;
    } else if (text !== this.label(this._value)) {
      const found = this.filter(text);
      if (found.length === 1) this.commit(found[0].id);
      else this.value = this._value;
    }
    this.close();
  }

  onKey(e) {
    if (e.key === "ArrowDown") {
      e.preventDefault();
      this.move(1);
    } else if (e.key === "ArrowUp") {
      e.preventDefault();
      this.move(-1);
    } else if (e.key === "Enter") {
      if (e.ctrlKey || e.metaKey) {
        this.settle(); // then let the page's Ctrl+Enter handler run
        return;
      }
      e.preventDefault();
      if (!this.list.hidden && this.active >= 0 && this.matches[this.active]) {
        const id = this.matches[this.active].id;
        this.commit(id === "" ? null : id);
      } else {
        this.settle();
      }
    } else if (e.key === "Escape") {
      if (!this.list.hidden) {
        e.preventDefault();
        e.stopPropagation();
        this.value = this._value;
        this.close();
      }
    } else if (e.key === "Tab") {
      this.settle();
    }
  }

  onBlur() {
    if (document.activeElement !== this.input) this.settle();
  }
}
