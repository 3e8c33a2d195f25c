/**
 * A plain-text table with multi-line cells, for terminals and for pasting into
 * Markdown code blocks. Widths are measured in code points, which is right for
 * the ASCII, box-drawing and ✔/✘ characters the demo prints.
 */
export type Cell = string | readonly string[];

const lines = (cell: Cell): readonly string[] => (typeof cell === 'string' ? [cell] : cell);
const width = (text: string): number => [...text].length;
const pad = (text: string, to: number): string => text + ' '.repeat(Math.max(0, to - width(text)));

/** Rows of cells; `null` draws a separator. The first row is the header. */
export function renderTable(rows: ReadonlyArray<readonly Cell[] | null>): string {
  const columnCount = Math.max(...rows.map((row) => row?.length ?? 0));
  const widths = Array.from({ length: columnCount }, (_, column) =>
    Math.max(...rows.map((row) => (row === null ? 0 : Math.max(0, ...lines(row[column] ?? '').map(width))))),
  );
  const separator = widths.map((w) => '─'.repeat(w)).join('─┼─');
  const out: string[] = [];
  for (const row of rows) {
    if (row === null) {
      out.push(separator);
      continue;
    }
    const height = Math.max(...row.map((cell) => lines(cell).length));
    for (let line = 0; line < height; line++) {
      out.push(
        widths
          .map((w, column) => pad(lines(row[column] ?? '')[line] ?? '', w))
          .join(' │ ')
          .trimEnd(),
      );
    }
  }
  return out.join('\n');
}
