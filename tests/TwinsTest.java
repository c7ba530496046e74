///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//SOURCES TestKit.java
//DESCRIPTION Tests that the deliberate copies between the top-level scripts (twins) are still identical.

// The servers are self-contained on purpose, so a few pieces stand word for word in several scripts. Each copy is
// wrapped in two comment lines:
//   // ---- twin: NAME (kept identical in A.java, B.java; tests/TwinsTest.java checks)
//   ...
//   // ---- end twin: NAME
// This test reads every top-level *.java file and fails when two blocks of one NAME differ (naming both files and the
// first differing line), when a header names a file that lacks the block, or when a marker is malformed. Blocks are
// compared with the marker line's indentation removed, so a copy may sit in a nested class in one script and at the
// top level in another. The checker itself is tested on edited copies of the real scripts.

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

public class TwinsTest {
    public static void main(String[] args) { TestKit.run("TwinsTest", TwinsTest.class); }

    /** The twins the project has today; each must stand in at least two scripts. */
    static final List<String> NAMES_IN_USE = List.of("accept-backoff", "poller-warm-up", "help-footer", "log-line");

    static final Pattern START = Pattern.compile(
            "^(\\s*)// ---- twin: ([a-z0-9-]+) \\(kept identical in ([A-Za-z0-9]+\\.java(?:, [A-Za-z0-9]+\\.java)+); tests/TwinsTest\\.java checks\\)$");
    static final Pattern END = Pattern.compile("^(\\s*)// ---- end twin: ([a-z0-9-]+)$");

    /** One copy: where it stands, the files its header names, and its lines without the marker's indentation. */
    record Block(String name, String file, int line, List<String> files, List<String> lines) {
        String at(int i) { return file + ":" + (line + i); }
    }

    // ---------------------------------------------------------------- the tests

    @Test
    void everyTwinIsIdenticalInEveryScriptItsHeaderNames() throws IOException {
        List<String> problems = problems(TestKit.projectRoot());
        assertTrue(problems.isEmpty(), String.join("\n", problems));
    }

    @Test
    void theTwinsInUseAreMarkedInAtLeastTwoScripts() throws IOException {
        Map<String, List<Block>> byName = byName(scan(TestKit.projectRoot(), new ArrayList<>()));
        for (String name : NAMES_IN_USE) {
            var files = byName.getOrDefault(name, List.of()).stream().map(Block::file).toList();
            assertTrue(files.size() >= 2, "twin " + name + " is marked in " + files + ": expected at least two scripts");
        }
    }

    /** An edit to one copy of the real scripts (one character) is caught, naming both files and the line. */
    @Test
    void anEditedCopyFailsNamingBothFilesAndTheFirstDifferingLine(@TempDir Path dir) throws IOException {
        copyScripts(dir);
        Block victim = byName(scan(dir, new ArrayList<>())).get("accept-backoff").getLast();
        Path file = dir.resolve(victim.file());
        List<String> lines = new ArrayList<>(Files.readAllLines(file));
        int at = victim.line() + 3;  // the fourth line of the block, counted from its header (line 1 of the file = 1)
        lines.set(at - 1, lines.get(at - 1) + " ");
        Files.write(file, lines);

        List<String> problems = problems(dir);
        assertEquals(1, problems.size(), String.join("\n", problems));
        String p = problems.getFirst();
        assertTrue(p.startsWith("twin accept-backoff differs:"), p);
        assertTrue(p.contains(victim.file() + ":" + at), "names the edited file and line: " + p);
        Block first = byName(scan(dir, new ArrayList<>())).get("accept-backoff").getFirst();
        assertTrue(p.contains(first.file() + ":" + at(first, 3)), "names the other file: " + p);
    }

    /** A script whose copy lost its markers (or never had them) while a header names it. */
    @Test
    void aHeaderNamingAScriptWithoutTheBlockFails(@TempDir Path dir) throws IOException {
        copyScripts(dir);
        Block victim = byName(scan(dir, new ArrayList<>())).get("poller-warm-up").getFirst();
        Path file = dir.resolve(victim.file());
        Files.write(file, Files.readAllLines(file).stream().filter(l -> !l.contains("twin: poller-warm-up")).toList());

        String all = String.join("\n", problems(dir));
        assertTrue(all.contains("twin poller-warm-up: its header names " + victim.file() + ", which has no such block"), all);
    }

    @Test
    void aMalformedOrUnterminatedMarkerFails(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("A.java"), """
                class A {
                    // ---- twin: x (kept identical in A.java, B.java; tests/TwinsTest.java checks)
                    int a;
                }
                """);
        Files.writeString(dir.resolve("B.java"), """
                class B {
                    // ---- twin: x (kept identical in A.java and B.java)
                    int a;
                    // ---- end twin: x
                }
                """);
        String all = String.join("\n", problems(dir));
        assertTrue(all.contains("A.java:2: twin x has no '// ---- end twin: x'"), all);
        assertTrue(all.contains("B.java:2: a twin marker not in the form"), all);
    }

    // ---------------------------------------------------------------- the checker

    /** Everything wrong with the twins of the top-level scripts in `dir`, one message each; empty when all is well. */
    static List<String> problems(Path dir) throws IOException {
        var problems = new ArrayList<String>();
        Map<String, List<Block>> byName = byName(scan(dir, problems));
        byName.forEach((name, blocks) -> {
            Block first = blocks.getFirst();
            for (Block other : blocks.subList(1, blocks.size())) {
                String d = firstDifference(first, other);
                if (d != null) problems.add("twin " + name + " differs: " + d);
            }
            var holders = new TreeSet<>(blocks.stream().map(Block::file).toList());
            for (Block b : blocks) {
                for (String f : b.files()) {
                    if (!holders.contains(f)) problems.add("twin " + name + ": its header names " + f + ", which has no such block (header at " + b.at(0) + ")");
                }
                if (!b.files().contains(b.file())) problems.add("twin " + name + ": " + b.at(0) + " stands in a file its header does not name");
            }
            if (holders.size() < 2) problems.add("twin " + name + ": only in " + holders + " (a twin needs two scripts)");
        });
        return problems;
    }

    /** "A.java:12: <line>" against "B.java:40: <line>" at the first line where the two copies part, or null. */
    static String firstDifference(Block a, Block b) {
        int n = Math.max(a.lines().size(), b.lines().size());
        for (int i = 0; i < n; i++) {
            String x = i < a.lines().size() ? a.lines().get(i) : null, y = i < b.lines().size() ? b.lines().get(i) : null;
            if (x != null && x.equals(y)) continue;
            return "%s: %s%n    vs %s: %s".formatted(x == null ? a.file() + " (block ended)" : a.at(i), x == null ? "" : x,
                    y == null ? b.file() + " (block ended)" : b.at(i), y == null ? "" : y);
        }
        return null;
    }

    /** Every block in the top-level *.java files of `dir`, in file order; malformed markers go to `problems`. */
    static List<Block> scan(Path dir, List<String> problems) throws IOException {
        var blocks = new ArrayList<Block>();
        List<Path> files;
        try (var list = Files.list(dir)) {
            files = list.filter(p -> p.getFileName().toString().endsWith(".java")).sorted().toList();
        }
        for (Path path : files) {
            String file = path.getFileName().toString();
            List<String> lines = Files.readAllLines(path);
            for (int i = 0; i < lines.size(); i++) {
                String l = lines.get(i);
                if (!l.contains("// ---- twin:") && !l.contains("// ---- end twin:")) continue;
                Matcher start = START.matcher(l);
                if (!start.matches()) {
                    problems.add("%s:%d: a twin marker not in the form '// ---- twin: NAME (kept identical in A.java, B.java; tests/TwinsTest.java checks)' or '// ---- end twin: NAME' (or an end without a start): %s"
                            .formatted(file, i + 1, l.strip()));
                    continue;
                }
                String indent = start.group(1), name = start.group(2);
                var body = new ArrayList<String>();
                int j = i;
                Matcher end = null;
                while (++j < lines.size()) {
                    String m = lines.get(j);
                    if (m.contains("// ---- twin:") || m.contains("// ---- end twin:")) {
                        end = END.matcher(m);
                        break;
                    }
                    body.add(m.startsWith(indent) ? m.substring(indent.length()) : m.strip());
                }
                if (end == null || !end.matches() || !end.group(2).equals(name)) {
                    problems.add("%s:%d: twin %s has no '// ---- end twin: %s' before %s".formatted(file, i + 1, name, name,
                            j < lines.size() ? "line " + (j + 1) : "the end of the file"));
                    i = j - 1;
                    continue;
                }
                var all = new ArrayList<String>();
                all.add(l.substring(indent.length()));
                all.addAll(body);
                all.add(lines.get(j).strip());
                blocks.add(new Block(name, file, i + 1, Arrays.asList(start.group(3).split(", ")), all));
                i = j;
            }
        }
        return blocks;
    }

    static Map<String, List<Block>> byName(List<Block> blocks) {
        var byName = new LinkedHashMap<String, List<Block>>();
        for (Block b : blocks) byName.computeIfAbsent(b.name(), k -> new ArrayList<>()).add(b);
        return byName;
    }

    static String at(Block b, int i) { return String.valueOf(b.line() + i); }

    static void copyScripts(Path dir) throws IOException {
        try (var list = Files.list(TestKit.projectRoot())) {
            for (Path p : list.filter(p -> p.getFileName().toString().endsWith(".java")).toList())
                Files.copy(p, dir.resolve(p.getFileName()));
        }
    }
}
