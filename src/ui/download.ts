// Saves bytes or a Blob as a file through a temporary object URL and an <a download> click.
export function downloadBytes(bytes: Uint8Array, fileName: string, mime: string): void {
  downloadBlob(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: mime }), fileName, 10_000);
}

/** Saves a Blob (e.g. an exported GGUF built in the worker) as a file; the URL lives `keepMs` for the browser to read it. */
export function downloadBlob(blob: Blob, fileName: string, keepMs = 60_000): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), keepMs);
}
