// Building DOM nodes from data without ever parsing data as HTML: every value becomes a text
// node or an attribute set through the DOM, so a trace annotation like "<img onerror=...>"
// is shown as those characters and never runs.

/**
 * el('a', {href: '#/x', class: 'id', onclick: fn}, 'text', otherNode, [more, nodes])
 * Props: `class`, `text`, `dataset` (object), `style` (object, set through CSSOM), `on<event>`
 * (listener), anything else an attribute
 * (true = present, false/null/undefined = absent).
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = String(value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'style' && typeof value === 'object') Object.assign(node.style, value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** node's children become `children` (as el() takes them: null and false are left out). */
export function replace(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

/** Copies text to the clipboard (127.0.0.1 is a secure context); says so on the button. */
export async function copyText(text, button) {
  const label = button.textContent;
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = 'Copied';
  } catch {
    button.textContent = 'Copy failed';
  }
  setTimeout(() => { button.textContent = label; }, 1500);
}

export function copyButton(text, label = 'Copy') {
  const button = el('button', {type: 'button', class: 'copy', title: `Copy ${text}`}, label);
  button.addEventListener('click', (event) => {
    event.preventDefault();
    event.stopPropagation();
    copyText(text, button);
  });
  return button;
}
