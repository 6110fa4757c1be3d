// csv.js - a small RFC 4180 reader for the import preview when the server's
// preview is not available: quotes, doubled quotes, newlines in quotes,
// CRLF, a UTF-8 BOM. Returns arrays of cells.
export function parseCsv(text, maxRows = Infinity) {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const rows = [];
  let row = [], cell = '', q = false;
  for (let i = 0; i < text.length && rows.length < maxRows; i++) {
    const c = text[i];
    if (q) {
      if (c === '"') {
        if (text[i + 1] === '"') { cell += '"'; i++; } else q = false;
      } else cell += c;
    } else if (c === '"') q = true;
    else if (c === ',') { row.push(cell); cell = ''; }
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell); cell = '';
      if (row.length > 1 || row[0] !== '') rows.push(row);
      row = [];
    } else cell += c;
  }
  if ((cell !== '' || row.length) && rows.length < maxRows) { row.push(cell); rows.push(row); }
  return rows;
}
