/** The element with this id, of the expected type (the page is ours: a missing one is a bug). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
	const element = document.getElementById(id);
	if (!element) throw new Error(`#${id} is missing from the page`);
	return element as T;
}

/** A new element with a class and optional text (text, never HTML: names come from other people). */
export function element<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text?: string): HTMLElementTagNameMap[K] {
	const node = document.createElement(tag);
	if (className) node.className = className;
	if (text !== undefined) node.textContent = text;
	return node;
}
