// Reports as files a person opens: one self-contained HTML page with inline SVG charts.

import java.util.*;

final class Html {
    private Html() {}

    /** A chart as drawn, with the series it was drawn from (tests compare these with the SVG's elements). */
    record Chart(String id, String title, String svg, List<Svg.Series> series) {}

    /** A report as a page: a title, an introduction, sections (a table, sentences, charts), notes and a footer; as text and as HTML. */
    static class Page {
        final String command;
        final List<Chart> charts = new ArrayList<>();
        final List<Section> sections = new ArrayList<>();
        final List<String> notes = new ArrayList<>();
        String title = "", intro = "";
        /** The footer as text: the date, the machine and how the figures were made; the command is added where it does not end with it. */
        String footer = "";

        record Section(String heading, TextTable table, List<String> sentences, List<Chart> charts) {}

        Page(String command) { this.command = command; }

        void section(String heading, TextTable table, List<String> sentences, List<Chart> sectionCharts) {
            sections.add(new Section(heading, table, sentences, sectionCharts));
            charts.addAll(sectionCharts);
        }

        void note(String text) { notes.add(text); }

        String text() {
            var sb = new StringBuilder();
            sb.append(title).append("\n\n");
            for (var s : sections) {
                sb.append(s.heading()).append('\n').append(s.table());
                for (String line : s.sentences()) sb.append("  ").append(line).append('\n');
                sb.append('\n');
            }
            notes.forEach(n -> sb.append(n).append('\n'));
            sb.append(footerText()).append('\n');
            return sb.toString();
        }

        String footerText() {
            return footer.contains(" Command: ") ? footer : footer + " Command: " + command;
        }

        /** One self-contained page: no script, no font or image from anywhere; prints on A4 or Letter. */
        String html() {
            var b = new StringBuilder();
            b.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>").append(esc(title)).append("</title>\n")
                    .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<style>\n").append(CSS).append("</style>\n</head>\n<body>\n")
                    .append("<h1>").append(esc(title)).append("</h1>\n<p class=\"intro\">").append(esc(intro)).append("</p>\n");
            for (var s : sections) {
                b.append("<section>\n<h2>").append(esc(s.heading())).append("</h2>\n").append(table(s.table()));
                for (var c : s.charts()) b.append("<figure id=\"chart-").append(esc(c.id())).append("\">").append(c.svg()).append("</figure>\n");
                if (!s.sentences().isEmpty()) {
                    b.append("<div class=\"reading\">");
                    s.sentences().forEach(line -> b.append("<p>").append(esc(line)).append("</p>"));
                    b.append("</div>\n");
                }
                b.append("</section>\n");
            }
            notes.forEach(n -> b.append("<p class=\"note\">").append(esc(n)).append("</p>\n"));
            String footer = footerText();
            b.append("<footer><p>").append(esc(footer.substring(0, footer.indexOf(" Command: ")))).append("</p>\n<p>Command: <code>").append(esc(command))
                    .append("</code></p></footer>\n</body>\n</html>\n");
            return b.toString();
        }

        static String table(TextTable t) {
            var b = new StringBuilder("<table>\n<thead><tr>");
            boolean marks = t.marks.stream().anyMatch(m -> !m.isEmpty());
            if (marks) b.append("<th></th>");
            t.header.forEach(h -> b.append("<th>").append(esc(h)).append("</th>"));
            b.append("</tr></thead>\n<tbody>\n");
            for (int r = 0; r < t.rows.size(); r++) {
                b.append("<tr>");
                if (marks) b.append("<td class=\"mark\">").append(esc(t.marks.get(r))).append("</td>");
                var row = t.rows.get(r);
                for (int i = 0; i < row.size(); i++) {
                    String c = row.get(i);
                    boolean number = i > 0 && !c.isEmpty() && (Character.isDigit(c.charAt(0)) || c.equals("-"));
                    b.append(number ? "<td class=\"num\">" : "<td>").append(esc(c)).append("</td>");
                }
                b.append("</tr>\n");
            }
            return b.append("</tbody>\n</table>\n").toString();
        }

        static final String CSS = """
                body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2733; background: #fff;
                       max-width: 62rem; margin: 0 auto; padding: 1.5rem; }
                h1 { font-size: 1.5rem; border-bottom: 2px solid #b0452a; padding-bottom: .3rem; }
                h2 { font-size: 1.15rem; margin-top: 2rem; }
                table { border-collapse: collapse; margin: .5rem 0 1rem; font-variant-numeric: tabular-nums; }
                th, td { border-bottom: 1px solid #d8dde3; padding: .25rem .6rem; text-align: left; }
                th { background: #f3f5f7; }
                td.num { text-align: right; white-space: nowrap; }
                td.mark { color: #b0452a; font-weight: bold; }
                figure { margin: .5rem 0; }
                figure svg { max-width: 100%; height: auto; }
                .reading p { margin: .3rem 0; }
                .note { color: #b0452a; }
                footer { margin-top: 2rem; border-top: 1px solid #d8dde3; color: #4d5661; font-size: .85rem; }
                code { font-family: ui-monospace, monospace; font-size: .85em; word-break: break-all; }
                @media print {
                  body { max-width: none; padding: 0; font-size: 11pt; }
                  section, figure, table { break-inside: avoid; page-break-inside: avoid; }
                  h2 { break-after: avoid; page-break-after: avoid; }
                }
                """;
    }

    /** Charts drawn as inline SVG: every series a <g class="series">, every point or bar an element with its data. */
    static final class Svg {
        record Point(double x, double y) {}

        record Series(String name, List<Point> points) {}

        /** Colours and dash patterns that stay apart on screen and on a black-and-white printout. */
        static final String[] COLOURS = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"};
        static final String[] DASHES = {"", "6 3", "2 3", "8 3 2 3", "", "6 3", "2 3", "8 3 2 3", "", "6 3"};
        static final int W = 800, LEFT = 70, RIGHT = 230, TOP = 48, BOTTOM = 56;

        /** Lines over N on an evenly spaced axis of the x values (1, 2, 4, ... reads like the from-scratch web server's charts). */
        static String lineChart(String title, String command, String xLabel, String yLabel, List<Series> series) {
            int h = 420, plotW = W - LEFT - RIGHT, plotH = h - TOP - BOTTOM;
            var xs = series.stream().flatMap(s -> s.points().stream()).map(Point::x).distinct().sorted().toList();
            double yMax = niceMax(series.stream().flatMap(s -> s.points().stream()).mapToDouble(Point::y).max().orElse(1));
            var b = open("line", title, command, h, series.size());
            axes(b, yLabel, yMax, plotW, plotH);
            for (int i = 0; i < xs.size(); i++) {
                double x = LEFT + (xs.size() == 1 ? plotW / 2.0 : i * plotW / (double) (xs.size() - 1));
                b.append(text(x, TOP + plotH + 18, "middle", 12, fmt(xs.get(i))));
            }
            b.append(text(LEFT + plotW / 2.0, h - 12, "middle", 12, xLabel));
            for (int s = 0; s < series.size(); s++) {
                var ser = series.get(s);
                String colour = COLOURS[s % COLOURS.length];
                b.append("<g class=\"series\" data-series=\"").append(esc(ser.name())).append("\">");
                var path = new StringBuilder();
                var dots = new StringBuilder();
                for (var p : ser.points()) {
                    int i = xs.indexOf(p.x());
                    double x = LEFT + (xs.size() == 1 ? plotW / 2.0 : i * plotW / (double) (xs.size() - 1));
                    double y = TOP + plotH - p.y() / yMax * plotH;
                    path.append(path.isEmpty() ? "M" : " L").append(f1(x)).append(' ').append(f1(y));
                    dots.append("<circle class=\"point\" cx=\"%s\" cy=\"%s\" r=\"3.5\" fill=\"%s\" data-x=\"%s\" data-y=\"%s\"><title>%s, N=%s: %s ms</title></circle>"
                            .formatted(f1(x), f1(y), colour, fmt(p.x()), f1(p.y()), esc(ser.name()), fmt(p.x()), f1(p.y())));
                }
                b.append("<path d=\"").append(path).append("\" fill=\"none\" stroke=\"").append(colour).append("\" stroke-width=\"2\"")
                        .append(DASHES[s % DASHES.length].isEmpty() ? "" : " stroke-dasharray=\"" + DASHES[s % DASHES.length] + "\"").append("/>")
                        .append(dots).append("</g>\n");
                legend(b, s, ser.name(), colour, true);
            }
            return b.append("</svg>").toString();
        }

        /** Grouped bars: one group per category, one bar per series (a point's x is the category's index). */
        static String barChart(String title, String command, String yLabel, List<String> categories, List<Series> series) {
            return bars(title, command, yLabel, categories, series, false);
        }

        /**
         * Stacked bars: one bar per category, one segment per series stacked in the series' order (a point's x is the
         * category's index; a series without a point for a category adds nothing to its bar).
         */
        static String stackedBarChart(String title, String command, String yLabel, List<String> categories, List<Series> series) {
            return bars(title, command, yLabel, categories, series, true);
        }

        private static String bars(String title, String command, String yLabel, List<String> categories, List<Series> series, boolean stacked) {
            int h = 400, plotW = W - LEFT - RIGHT, plotH = h - TOP - BOTTOM;
            double[] totals = new double[categories.size()];
            series.forEach(ser -> ser.points().forEach(p -> totals[(int) p.x()] += p.y()));
            double yMax = niceMax(stacked ? Arrays.stream(totals).max().orElse(1)
                    : series.stream().flatMap(s -> s.points().stream()).mapToDouble(Point::y).max().orElse(1));
            var b = open(stacked ? "stacked" : "bar", title, command, h, series.size());
            axes(b, yLabel, yMax, plotW, plotH);
            double group = plotW / (double) Math.max(1, categories.size());
            double bar = stacked ? Math.min(48, group * 0.6) : Math.min(36, group * 0.8 / Math.max(1, series.size()));
            for (int c = 0; c < categories.size(); c++) {
                b.append(text(LEFT + group * (c + 0.5), TOP + plotH + 18, "middle", 12, categories.get(c)));
                if (stacked) b.append(text(LEFT + group * (c + 0.5), TOP + plotH - totals[c] / yMax * plotH - 4, "middle", 10, "%.2f".formatted(totals[c])));
            }
            double[] base = new double[categories.size()];   // stacked: the top of each bar so far
            for (int s = 0; s < series.size(); s++) {
                var ser = series.get(s);
                String colour = COLOURS[s % COLOURS.length];
                b.append("<g class=\"series\" data-series=\"").append(esc(ser.name())).append("\">");
                for (var p : ser.points()) {
                    int c = (int) p.x();
                    String category = categories.get(c);
                    if (stacked) {
                        double y0 = TOP + plotH - base[c] / yMax * plotH, y1 = TOP + plotH - (base[c] + p.y()) / yMax * plotH;
                        base[c] += p.y();
                        bar(b, LEFT + group * (c + 0.5) - bar / 2, y1, bar, y0 - y1, colour, category, String.format(Locale.ROOT, "%.3f", p.y()),
                                ser.name() + " on " + category + ": " + String.format(Locale.ROOT, "%.2f", p.y()));
                    } else {
                        double x = LEFT + group * (c + 0.5) - bar * series.size() / 2 + s * bar;
                        double y = TOP + plotH - p.y() / yMax * plotH;
                        bar(b, x, y, bar - 2, TOP + plotH - y, colour, category, f1(p.y()), ser.name() + " on " + category + ": " + f1(p.y()) + " ms");
                        b.append(text(x + (bar - 2) / 2, y - 4, "middle", 10, "%.0f".formatted(p.y())));
                    }
                }
                b.append("</g>\n");
                legend(b, s, ser.name(), colour, false);
            }
            return b.append("</svg>").toString();
        }

        /** A bar: a rect that carries its category and value (the tests read them), titled for a reader pointing at it. */
        private static void bar(StringBuilder b, double x, double y, double w, double h, String colour, String category, String value, String title) {
            b.append("<rect class=\"bar\" x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\" stroke=\"#333\" stroke-width=\".5\" data-category=\"%s\" data-value=\"%s\"><title>%s</title></rect>"
                    .formatted(f1(x), f1(y), f1(w), f1(h), colour, esc(category), value, esc(title)));
        }

        /** One horizontal bar per job, from the client's start to the arrival of its answer, on a shared time axis. */
        static String timeline(String title, String command, List<String> jobs, Series arrivals, double maxMs) {
            int rowH = 30, h = TOP + jobs.size() * rowH + BOTTOM, left = 100, plotW = W - left - 60, plotH = jobs.size() * rowH;
            double xMax = niceMax(maxMs);
            var b = open("timeline", title, command, h, 1);
            for (int t = 0; t <= 5; t++) {
                double x = left + plotW * t / 5.0;
                b.append("<line x1=\"%s\" y1=\"%d\" x2=\"%s\" y2=\"%d\" stroke=\"#e1e5ea\"/>".formatted(f1(x), TOP, f1(x), TOP + plotH));
                b.append(text(x, TOP + plotH + 16, "middle", 11, fmt(xMax * t / 5)));
            }
            b.append(text(left + plotW / 2.0, h - 12, "middle", 12, "ms from the client's start to the answer"));
            b.append("<g class=\"series\" data-series=\"").append(esc(arrivals.name())).append("\">");
            for (var p : arrivals.points()) {
                int row = (int) p.x();
                double y = TOP + row * rowH + 5, w = Math.max(1, p.y() / xMax * plotW);
                String colour = COLOURS[row % COLOURS.length];
                b.append(text(left - 6, y + 15, "end", 12, jobs.get(row)));
                b.append("<rect class=\"bar\" x=\"%d\" y=\"%s\" width=\"%s\" height=\"%d\" fill=\"%s\" data-category=\"%s\" data-value=\"%s\"><title>%s: %s ms</title></rect>"
                        .formatted(left, f1(y), f1(w), rowH - 10, colour, esc(jobs.get(row)), fmt(p.y()), esc(jobs.get(row)), fmt(p.y())));
                b.append(text(left + w + 4, y + 15, "start", 11, fmt(p.y()) + " ms"));
            }
            return b.append("</g>\n</svg>").toString();
        }

        private static StringBuilder open(String kind, String title, String command, int h, int seriesCount) {
            var b = new StringBuilder();
            b.append("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" data-kind=\"%s\" data-series-count=\"%d\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" role=\"img\">"
                    .formatted(kind, seriesCount, W, h, W, h));
            b.append("<title>").append(esc(title)).append("</title>");
            b.append("<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>");
            b.append(text(W / 2.0, 20, "middle", 15, title).replace("<text ", "<text font-weight=\"bold\" "));
            b.append(text(W / 2.0, 36, "middle", 10, chartCommand(command)).replace("<text ", "<text fill=\"#555\" "));
            return b;
        }

        /** The command under a chart's title: without --html/--json/--svg (they change no figure), cut to fit the width. */
        static String chartCommand(String command) {
            String c = command.replaceAll(" --(html|json|svg)[ =]('[^']*'|\\S+)", "");
            return c.length() <= 130 ? c : c.substring(0, 127) + "...";
        }

        private static void axes(StringBuilder b, String yLabel, double yMax, int plotW, int plotH) {
            for (int t = 0; t <= 5; t++) {
                double y = TOP + plotH - plotH * t / 5.0;
                b.append("<line x1=\"%d\" y1=\"%s\" x2=\"%d\" y2=\"%s\" stroke=\"%s\"/>".formatted(LEFT, f1(y), LEFT + plotW, f1(y), t == 0 ? "#333" : "#e1e5ea"));
                b.append(text(LEFT - 6, y + 4, "end", 11, fmt(yMax * t / 5)));
            }
            b.append("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>".formatted(LEFT, TOP, LEFT, TOP + plotH));
            b.append("<text x=\"16\" y=\"%s\" text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 16 %s)\">%s</text>"
                    .formatted(f1(TOP + plotH / 2.0), f1(TOP + plotH / 2.0), esc(yLabel)));
        }

        private static void legend(StringBuilder b, int s, String name, String colour, boolean line) {
            double x = W - RIGHT + 16, y = TOP + 8 + s * 20;
            b.append(line
                    ? "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\" stroke-width=\"2\"%s/>".formatted(f1(x), f1(y), f1(x + 22), f1(y), colour,
                    DASHES[s % DASHES.length].isEmpty() ? "" : " stroke-dasharray=\"" + DASHES[s % DASHES.length] + "\"")
                    : "<rect x=\"%s\" y=\"%s\" width=\"16\" height=\"10\" fill=\"%s\"/>".formatted(f1(x), f1(y - 5), colour));
            b.append(text(x + 28, y + 4, "start", 11, name));
        }

        private static String text(double x, double y, String anchor, int size, String s) {
            return "<text x=\"%s\" y=\"%s\" text-anchor=\"%s\" font-size=\"%d\">%s</text>".formatted(f1(x), f1(y), anchor, size, esc(s));
        }

        /** The first round number (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten) at or above v, for the axis. */
        static double niceMax(double v) {
            if (!(v > 0)) return 1;
            double p = Math.pow(10, Math.floor(Math.log10(v)));
            for (double m : new double[]{1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10}) if (m * p >= v) return m * p;
            return 10 * p;
        }

        static String f1(double v) { return String.format(Locale.ROOT, "%.1f", v); }

        static String fmt(double v) { return v == Math.rint(v) ? String.valueOf((long) v) : String.format(Locale.ROOT, "%.1f", v); }
    }

    /** Text for HTML and SVG: &, <, >, " escaped. */
    static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
