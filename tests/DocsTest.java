///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//SOURCES TestKit.java
//DESCRIPTION Tests of README.md and docs/*.md: every relative link resolves, every ./jbang command shown parses.

// The docs are read as a newcomer reads them: each relative link must name a file that exists (and, for a link into
// a Markdown page, a heading that exists there), and each `./jbang Script.java ...` command, in a code block or in
// inline code, must be accepted by the script: it is run with `--help` appended, which picocli answers only after
// parsing every option and subcommand before it, and must exit 0. Commands run from a scratch folder with absolute
// paths, so one that writes a file (a JFR recording, say) leaves nothing behind.

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.*;
import java.util.concurrent.*;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

public class DocsTest {
    public static void main(String[] args) { TestKit.run("DocsTest", DocsTest.class); }

    /** Script names the docs use for "any script": shown, never run. */
    static final Pattern PLACEHOLDER_SCRIPT = Pattern.compile("(?i)(script|x|y|[a-z]+/to/.*)\\.java");

    /** Where a thing was found: the file (relative to the project) and its line. */
    record Where(String file, int line) {
        @Override public String toString() { return file + ":" + line; }
    }

    /** One Markdown file: its lines, and which of them lie inside ``` fences. */
    record Page(Path path, String name, List<String> lines, boolean[] fenced) {
        static Page read(Path root, Path p) throws IOException {
            var lines = Files.readAllLines(p, StandardCharsets.UTF_8);
            var fenced = new boolean[lines.size()];
            boolean in = false;
            for (int i = 0; i < lines.size(); i++) {
                boolean fence = lines.get(i).strip().startsWith("```");
                fenced[i] = in || fence;
                if (fence) in = !in;
            }
            return new Page(p, root.relativize(p).toString(), lines, fenced);
        }

        /** GitHub's anchors for this page's headings: lower case, punctuation dropped, spaces to hyphens. */
        Set<String> anchors() {
            var out = new HashSet<String>();
            var seen = new HashMap<String, Integer>();
            for (int i = 0; i < lines.size(); i++) {
                if (fenced[i] || !lines.get(i).startsWith("#")) continue;
                String text = lines.get(i).replaceFirst("^#+\\s*", "").strip();
                String slug = text.toLowerCase(Locale.ROOT).replaceAll("[^\\p{L}\\p{N} _-]", "").replace(' ', '-');
                int n = seen.merge(slug, 1, Integer::sum) - 1;
                out.add(n == 0 ? slug : slug + "-" + n);
            }
            return out;
        }
    }

    static List<Page> pages() throws IOException {
        Path root = TestKit.projectRoot();
        var files = new ArrayList<Path>(List.of(root.resolve("README.md")));
        try (var docs = Files.list(root.resolve("docs"))) {
            docs.filter(p -> p.toString().endsWith(".md")).sorted().forEach(files::add);
        }
        var out = new ArrayList<Page>();
        for (Path p : files) out.add(Page.read(root, p));
        return out;
    }

    // ---------------------------------------------------------------- links

    static final Pattern LINK = Pattern.compile("\\]\\(([^)\\s]+)\\)");

    @Test
    void everyRelativeLinkNamesAFileThatExistsAndEveryAnchorAHeading() throws IOException {
        var pages = pages();
        var byPath = new HashMap<Path, Page>();
        for (Page p : pages) byPath.put(p.path().toAbsolutePath().normalize(), p);
        var broken = new ArrayList<String>();
        int checked = 0;
        for (Page page : pages) {
            for (int i = 0; i < page.lines().size(); i++) {
                if (page.fenced()[i]) continue;
                Matcher m = LINK.matcher(page.lines().get(i));
                while (m.find()) {
                    String target = m.group(1);
                    if (target.matches("^[a-z]+:.*")) continue;   // http:, https:, mailto:
                    checked++;
                    int hash = target.indexOf('#');
                    String file = hash < 0 ? target : target.substring(0, hash);
                    String anchor = hash < 0 ? null : target.substring(hash + 1);
                    Path resolved = file.isEmpty() ? page.path() : page.path().getParent().resolve(file).normalize();
                    var where = new Where(page.name(), i + 1);
                    if (!Files.exists(resolved)) {
                        broken.add(where + ": " + target + " (no such file: " + resolved + ")");
                        continue;
                    }
                    if (anchor != null && resolved.toString().endsWith(".md")) {
                        Page linked = byPath.get(resolved.toAbsolutePath().normalize());
                        if (linked == null) linked = Page.read(TestKit.projectRoot(), resolved);
                        if (!linked.anchors().contains(anchor))
                            broken.add(where + ": " + target + " (no heading with the anchor #" + anchor + " in " + file + ")");
                    }
                }
            }
        }
        assertTrue(checked > 20, "found only " + checked + " relative links: is the link pattern still right?");
        assertTrue(broken.isEmpty(), broken.size() + " broken link(s):\n" + String.join("\n", broken));
    }

    // ---------------------------------------------------------------- ./jbang commands

    /** A command as shown: the environment it sets, the words after ./jbang, and where it was first shown. */
    record Shown(Map<String, String> env, List<String> words, Where where) {
        @Override public String toString() {
            var sb = new StringBuilder();
            env.forEach((k, v) -> sb.append(k).append('=').append(v).append(' '));
            return sb.append("./jbang ").append(String.join(" ", words)).toString();
        }
    }

    static final Pattern INLINE = Pattern.compile("`([^`]*\\./jbang [^`]*)`");

    /** In a code block, a line that is a command: it starts with ./jbang, variables and ./jbang, or a `$ ` prompt. */
    static final Pattern SHELL_LINE = Pattern.compile("^\\s*(?:\\$ (.*\\./jbang\\s.*)|((?:[A-Z_][A-Z0-9_]*=\\S*\\s+)*\\./jbang\\s.*))");

    /** Every `./jbang X.java ...` the docs show (in code blocks and inline code), once each. */
    static List<Shown> commands() throws IOException {
        var out = new LinkedHashMap<String, Shown>();
        for (Page page : pages()) {
            for (int i = 0; i < page.lines().size(); i++) {
                String line = page.lines().get(i);
                var texts = new ArrayList<String>();
                if (page.fenced()[i]) {
                    Matcher m = SHELL_LINE.matcher(line);
                    if (m.find()) texts.add(m.group(1) != null ? m.group(1) : m.group(2));
                } else {
                    Matcher m = INLINE.matcher(line);
                    while (m.find()) texts.add(m.group(1));
                }
                for (String text : texts) {
                    Shown s = parse(text, new Where(page.name(), i + 1));
                    if (s != null) out.putIfAbsent(s.toString(), s);
                }
            }
        }
        return List.copyOf(out.values());
    }

    /**
     * The ./jbang command in a line of shell, or null when the line only mentions ./jbang (output such as
     * "./jbang 297.35 ms", or `./jbang info tools`, which runs no script). Words before ./jbang that set a variable
     * (`THS_MODE=pool`) are its environment; other words before it (`$`, `prlimit ...`) are left out. The command ends
     * at a comment, a pipe, `&`, `;`, or a word `...` that stands for more.
     */
    static Shown parse(String text, Where where) {
        List<String> words = words(text);
        int at = words.indexOf("./jbang");
        if (at < 0) return null;
        var env = new LinkedHashMap<String, String>();
        for (int i = at - 1; i >= 0 && words.get(i).matches("[A-Z_][A-Z0-9_]*=.*"); i--) {
            String w = words.get(i);
            env.putFirst(w.substring(0, w.indexOf('=')), w.substring(w.indexOf('=') + 1));
        }
        var rest = new ArrayList<String>();
        for (String w : words.subList(at + 1, words.size())) {
            if (w.equals("\u0000#") || w.equals("|") || w.equals("&") || w.equals("&&") || w.equals(";") || w.endsWith("...")) break;
            rest.add(w);
        }
        // The script is the first word that is not a JBang option (JBang options come first: -Dx=y, --runtime-option=...).
        int script = 0;
        while (script < rest.size() && rest.get(script).startsWith("-")) script++;
        if (script == rest.size() || !rest.get(script).endsWith(".java")) return null;
        return new Shown(env, rest, where);
    }

    /** Shell words: '...' and "..." quote, a backslash outside quotes escapes one character, `#` starts a comment. */
    static List<String> words(String text) {
        var out = new ArrayList<String>();
        var w = new StringBuilder();
        boolean inWord = false;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '\'' || c == '"') {
                int end = text.indexOf(c, i + 1);
                if (end < 0) end = text.length();
                w.append(text, i + 1, end);
                i = end;
                inWord = true;
            } else if (c == '\\' && i + 1 < text.length()) {
                w.append(text.charAt(++i));
                inWord = true;
            } else if (Character.isWhitespace(c)) {
                if (inWord) out.add(w.toString());
                w.setLength(0);
                inWord = false;
            } else if (c == '#' && !inWord) {
                out.add("\u0000#");   // a comment: marks the end, can never be a word of the command
                break;
            } else {
                w.append(c);
                inWord = true;
            }
        }
        if (inWord) out.add(w.toString());
        return out;
    }

    @Test
    void theCommandParserReadsTheShapesTheDocsUse() {
        var where = new Where("x", 1);
        assertEquals("./jbang Compare.java compare --quick", parse("./jbang Compare.java compare --quick   # about 20 s", where).toString());
        assertEquals("THS_MODE=pool ./jbang ThreadedHttpServer.java", parse("THS_MODE=pool ./jbang ThreadedHttpServer.java", where).toString());
        assertEquals(List.of("LoadTest.java", "send", "127.0.0.1", "8080", "GET / HTTP/1.1\\r\\nHost: x\\r\\n"),
                parse("./jbang LoadTest.java send 127.0.0.1 8080 'GET / HTTP/1.1\\r\\nHost: x\\r\\n'", where).words());
        assertEquals(List.of("--runtime-option=-Xmx2g", "EchoServer.java", "-q"),
                parse("$ prlimit --nofile=128:128 ./jbang --runtime-option=-Xmx2g EchoServer.java -q", where).words());
        assertEquals(List.of("LoadTest.java", "--mode", "virtual", "--json"), parse("./jbang LoadTest.java --mode virtual --json ...", where).words());
        assertNull(parse("  ./jbang 297.35 ms (adds 44.0 ms)", where));
        assertNull(parse("./jbang info tools", where));
        String help = "Usage: LoadTest burst [-hV] [-nc=<n>] (-i | -c) HOST PORT\n  -i   the I/O-bound task\n      -nc=<n>  requests\n";
        assertNull(unknownWords(List.of("burst", "-i", "-nc", "8", "127.0.0.1", "3000"), help));
        assertEquals("no option --nc", unknownWords(List.of("-i", "--nc", "8"), help));
        assertEquals("'nosuch' is not one of its subcommands", unknownWords(List.of("nosuch"), "Usage: Compare [-hV] [COMMAND]\n"));
        assertFalse(SHELL_LINE.matcher("  C client 470.2 ms; ./jbang EchoClient.java 755.9 ms = 1.61x").find());
        assertFalse(SHELL_LINE.matcher("Command: ./jbang Compare.java compare --json /tmp/compare.json").find());
        assertTrue(SHELL_LINE.matcher("$ prlimit --nofile=128:128 ./jbang EchoServer.java -q").find());
        assertTrue(SHELL_LINE.matcher("THS_MODE=pool ./jbang ThreadedHttpServer.java").find());
    }

    @TestFactory
    Stream<DynamicTest> everyJbangCommandShownParses() throws Exception {
        Path root = TestKit.projectRoot();
        // Not run, so not counted as a pass either: a placeholder script ("Script.java") that is not in the project,
        // and a test script (it takes no options: running it runs its tests).
        List<Shown> shown = commands().stream().filter(DocsTest::runnable).toList();
        assertTrue(shown.size() > 10, "found only " + shown.size() + " ./jbang commands: is the pattern still right?\n" + shown);
        // Two scripts at a time (each command is a JVM start); the commands of one script one after another, since a
        // script that needs compiling must not be compiled by two JBang processes at once.
        var results = new LinkedHashMap<Shown, CompletableFuture<String>>();
        var byScript = new LinkedHashMap<String, List<Shown>>();
        for (Shown s : shown) {
            results.put(s, new CompletableFuture<>());
            byScript.computeIfAbsent(scriptOf(s.words()), k -> new ArrayList<>()).add(s);
        }
        var pool = Executors.newFixedThreadPool(2);
        for (var group : byScript.values()) pool.submit(() -> {
            for (Shown s : group) {
                try {
                    results.get(s).complete(check(root, s));
                } catch (Throwable e) {
                    results.get(s).completeExceptionally(e);
                }
            }
        });
        pool.shutdown();
        return results.entrySet().stream().map(e -> DynamicTest.dynamicTest(e.getKey() + "  (" + e.getKey().where() + ")", () -> {
            String failure = e.getValue().get(110, TimeUnit.SECONDS);
            if (failure != null) fail(failure);
        }));
    }

    static void delete(Path dir) {
        try (var all = Files.walk(dir)) {
            all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a scratch folder in the system's temp folder: nothing depends on its removal
        }
    }

    /** Runs the shown command with --help appended; null when it exits 0, else what went wrong. */
    static String check(Path root, Shown s) throws Exception {
        Path scratch = Files.createTempDirectory("docs-test-");
        try {
            return check(root, scratch, s);
        } finally {
            delete(scratch);
        }
    }

    /** False for a command shown with a placeholder script that is not in the project, or with a test script. */
    static boolean runnable(Shown s) {
        String name = scriptOf(s.words());
        boolean placeholder = PLACEHOLDER_SCRIPT.matcher(name).matches() && !Files.isRegularFile(TestKit.projectRoot().resolve(name));
        return !placeholder && !name.startsWith("tests/");
    }

    /** The script a command runs: its first word that is not a JBang option. */
    static String scriptOf(List<String> words) {
        return words.stream().filter(w -> !w.startsWith("-")).findFirst().orElseThrow();
    }

    static String check(Path root, Path scratch, Shown s) throws Exception {
        var words = new ArrayList<String>(s.words());
        int script = words.indexOf(scriptOf(words));
        String name = words.get(script);
        Path file = root.resolve(name);
        if (!Files.isRegularFile(file)) return s + " (" + s.where() + "): no script " + name + " in the project";
        words.set(script, file.toString());
        var cmd = new ArrayList<String>(List.of(root.resolve("jbang").toString()));
        cmd.addAll(words);
        cmd.add("--help");
        var pb = new ProcessBuilder(cmd).directory(scratch.toFile()).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().putAll(s.env());
        Process p = pb.start();
        // Read all output on this thread; --help ends at once, so a command still running is the failure to report.
        var out = Executors.newVirtualThreadPerTaskExecutor().submit(() -> new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
        if (!p.waitFor(100, TimeUnit.SECONDS)) {
            p.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            return s + " --help (" + s.where() + "): still running after 100 s; output:\n" + out.get(5, TimeUnit.SECONDS);
        }
        String text = out.get(10, TimeUnit.SECONDS);
        if (p.exitValue() != 0) return s + " --help (" + s.where() + "): exit code " + p.exitValue() + "; output:\n" + text;
        if (s.env().containsKey("JBANG_LAUNCHER_PRINT")) return null;   // it prints the java command, not the help
        if (!text.contains("Usage:")) return s + " --help (" + s.where() + "): exit code 0 but no usage text; output:\n" + text;
        String problem = unknownWords(words.subList(script + 1, words.size()), text);
        return problem == null ? null : s + " (" + s.where() + "): " + problem + "; its --help:\n" + text;
    }

    /**
     * What picocli lets through once help is asked for: an option name the command does not have, or a first word
     * that is not one of its subcommands. Null when every option of `args` is named in `help` (the help of the
     * subcommand they reached). A subcommand that passes its ARGS on to a server is not checked further.
     */
    static String unknownWords(List<String> args, String help) {
        String usage = help.lines().filter(l -> l.startsWith("Usage:")).findFirst().orElse("");
        if (!args.isEmpty() && !args.getFirst().startsWith("-") && usage.contains("[COMMAND]"))
            return "'" + args.getFirst() + "' is not one of its subcommands";
        if (usage.contains("ARGS...")) return null;
        for (String w : args) {
            if (w.equals("--")) break;
            if (!w.matches("--?[A-Za-z].*")) continue;
            String name = w.contains("=") ? w.substring(0, w.indexOf('=')) : w;
            if (!Pattern.compile("(?<![\\w-])" + Pattern.quote(name) + "(?![\\w-])").matcher(help).find())
                return "no option " + name;
        }
        return null;
    }
}
