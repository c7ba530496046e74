// A plain text table, as Compare and the experiments print them: a header row, right-aligned numbers, and a marker
// column for rows worth a look (`!` a failure, `≠` sides that differ).

import java.util.*;

/** A plain text table: a header row, right-aligned numbers, a marker column for rows worth a look. */
final class TextTable {
    final List<String> header;
    final List<List<String>> rows = new ArrayList<>();
    final List<String> marks = new ArrayList<>();

    TextTable(String... header) { this.header = List.of(header); }

    TextTable row(String mark, List<String> cells) {
        rows.add(cells);
        marks.add(mark == null ? "" : mark);
        return this;
    }

    TextTable row(String... cells) { return row(null, List.of(cells)); }

    @Override public String toString() {
        int[] w = new int[header.size()];
        for (int i = 0; i < w.length; i++) w[i] = header.get(i).length();
        for (var r : rows) for (int i = 0; i < r.size() && i < w.length; i++) w[i] = Math.max(w[i], r.get(i).length());
        int markWidth = marks.stream().mapToInt(String::length).max().orElse(0);
        var sb = new StringBuilder();
        line(sb, " ".repeat(markWidth), header, w);
        line(sb, " ".repeat(markWidth), Arrays.stream(w).mapToObj("-"::repeat).toList(), w);
        for (int r = 0; r < rows.size(); r++) line(sb, pad(marks.get(r), markWidth), rows.get(r), w);
        return sb.toString();
    }

    private static void line(StringBuilder sb, String mark, List<String> cells, int[] w) {
        sb.append(mark).append(mark.isEmpty() ? "" : " ");
        for (int i = 0; i < cells.size(); i++) {
            String c = cells.get(i);
            boolean number = i > 0 && !c.isEmpty() && (Character.isDigit(c.charAt(0)) || c.equals("-"));
            sb.append(i == 0 ? "" : "  ").append(number ? " ".repeat(w[i] - c.length()) + c : pad(c, w[i]));
        }
        sb.append(System.lineSeparator());
    }

    private static String pad(String s, int w) { return s + " ".repeat(Math.max(0, w - s.length())); }
}
