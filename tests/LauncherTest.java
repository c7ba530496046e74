///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//SOURCES TestKit.java
//DESCRIPTION Tests of the ./jbang launcher: JDK discovery, bootstrap errors, exit codes, the fast path, the AOT cache.

// Runs ./jbang as a user would, with a changed environment, and checks what it prints and its exit status.
// The fast path is observed through JBANG_LAUNCHER_VERBOSE=1, which says "fast path" or "jbang: <why>" for each run:
// a causal fact, never a timing. Every test runs ./jbang's own path (its fast path, its JBang CLI fetched with Maven,
// its AOT cache), whether or not a `jbang` is installed on PATH: ./jbang does not use one unless asked to, which
// the tests under "An installed jbang" pin down with a stand-in put first on PATH.

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

public class LauncherTest {
    public static void main(String[] args) { TestKit.run("LauncherTest", LauncherTest.class); }

    record Result(int code, String out) {}

    static Result launch(Map<String, String> env, List<String> unset, String... args) throws Exception {
        var cmd = new java.util.ArrayList<String>(List.of(TestKit.projectRoot().resolve("jbang").toString()));
        cmd.addAll(List.of(args));
        var pb = new ProcessBuilder(cmd).redirectErrorStream(true).directory(TestKit.projectRoot().toFile());
        unset.forEach(pb.environment()::remove);
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "launcher did not finish");
        return new Result(p.exitValue(), out);
    }

    /** A directory holding a fake JDK home whose `release` says Java 17, to stand for "only an old JDK here". */
    static Path oldJdk(Path dir) throws Exception {
        Path home = dir.resolve("old-jdk");
        Files.createDirectories(home.resolve("bin"));
        Files.writeString(home.resolve("release"), "JAVA_VERSION=\"17.0.15\"\n");
        Path java = home.resolve("bin/java");
        Files.writeString(java, "#!/bin/sh\necho 'openjdk version \"17.0.15\"' >&2\n");
        java.toFile().setExecutable(true);
        return home;
    }

    @Test void picksAJdk25EvenWhenTheDefaultJavaIsOlder(@TempDir Path dir) throws Exception {
        Path script = dir.resolve("Version.java");
        Files.writeString(script, """
                //JAVA 25+
                public class Version { public static void main(String[] a) { System.out.println("feature=" + Runtime.version().feature()); } }
                """);
        Path old = oldJdk(dir);
        var r = launch(Map.of("JAVA_HOME", old.toString(), "PATH", old.resolve("bin") + ":" + System.getenv("PATH")),
                List.of(), script.toString());
        assertEquals(0, r.code(), r.out());
        int feature = Integer.parseInt(r.out().replaceAll("(?s).*feature=(\\d+).*", "$1"));
        assertTrue(feature >= 25, "ran on Java " + feature + ": " + r.out());
    }

    @Test void saysWhatIsMissingWhenThereIsNoJdk25(@TempDir Path dir) throws Exception {
        Path old = oldJdk(dir);
        var r = launch(Map.of("JAVA_HOME", old.toString(), "PATH", old.resolve("bin") + ":/usr/bin:/bin",
                "JBANG_LAUNCHER_JDKS", dir.resolve("none").toString()), List.of(), "--version");
        assertEquals(1, r.code(), r.out());
        assertTrue(r.out().startsWith("Error: no JDK 25 or newer found"), r.out());
        assertEquals(1, r.out().strip().lines().count(), "one line: " + r.out());
    }

    /** A folder of the few tools the launcher needs, and neither jbang nor mvn. */
    static Path toolsWithoutMaven(Path dir) throws Exception {
        Path bin = dir.resolve("bin");
        Files.createDirectories(bin);
        for (String tool : List.of("bash", "sed", "dirname", "readlink", "ls", "sort", "cat", "basename", "mkdir", "env")) {
            Path real = Path.of("/usr/bin", tool).toFile().exists() ? Path.of("/usr/bin", tool) : Path.of("/bin", tool);
            Files.writeString(bin.resolve(tool), "#!/bin/sh\nexec " + real + " \"$@\"\n");
            bin.resolve(tool).toFile().setExecutable(true);
        }
        return bin;
    }

    @Test void saysWhatIsMissingWhenMavenIsNeededButAbsent(@TempDir Path dir) throws Exception {
        // An empty cache forces the bootstrap; a PATH with neither jbang nor mvn makes it impossible.
        Path bin = toolsWithoutMaven(dir);
        var r = launch(Map.of("PATH", bin.toString(), "JBANG_LAUNCHER_CACHE", dir.resolve("cache").toString()),
                List.of(), "--version");
        assertEquals(1, r.code(), r.out());
        assertTrue(r.out().startsWith("Error: Maven (mvn) not found"), r.out());
    }

    @Test void passesJbangsOwnExitCodeThrough(@TempDir Path dir) throws Exception {
        Path script = dir.resolve("Exit3.java");
        Files.writeString(script, """
                //JAVA 25+
                public class Exit3 { public static void main(String[] a) { System.out.println("args=" + String.join("|", a)); System.exit(3); } }
                """);
        var r = launch(Map.of(), List.of(), script.toString(), "a b", "c");
        assertEquals(3, r.code(), r.out());
        assertTrue(r.out().contains("args=a b|c"), "arguments with spaces survive: " + r.out());
    }

    // ---- The fast path

    static final Map<String, String> VERBOSE = Map.of("JBANG_LAUNCHER_VERBOSE", "1");

    /** Runs the script with the launcher saying which way it went; returns the output without the launcher's JDK line. */
    static Result verbose(Path script, String... args) throws Exception {
        var all = new ArrayList<String>(List.of(script.toString()));
        all.addAll(List.of(args));
        return launch(VERBOSE, List.of(), all.toArray(String[]::new));
    }

    static boolean fast(Result r) { return r.out().contains("[launcher] fast path: "); }

    /** A script printing `value=` and the value Helper.java gives (through //SOURCES), and its arguments. */
    static Path scriptWithSources(Path dir, String value, String helperValue) throws Exception {
        Files.writeString(dir.resolve("Helper.java"), "class Helper { static String v() { return \"" + helperValue + "\"; } }\n");
        Path script = dir.resolve("Edited.java");
        Files.writeString(script, """
                //JAVA 25+
                //SOURCES Helper.java
                public class Edited {
                    public static void main(String[] a) {
                        System.out.println("value=%s helper=" + Helper.v());
                        for (String s : a) System.out.println("arg[" + s + "]");
                    }
                }
                """.formatted(value));
        return script;
    }

    @Test void fastPathPicksUpAnEditToTheScript(@TempDir Path dir) throws Exception {
        Path script = scriptWithSources(dir, "v1", "h1");
        var first = verbose(script);
        assertTrue(first.out().contains("[launcher] jbang: no cached command"), first.out());
        assertTrue(first.out().contains("value=v1 helper=h1"), first.out());
        var second = verbose(script);
        assertTrue(fast(second), "nothing changed, so no JBang: " + second.out());
        assertTrue(second.out().contains("value=v1 helper=h1"), second.out());

        scriptWithSources(dir, "v2", "h1");   // same size, same second: only the content tells
        var edited = verbose(script);
        assertFalse(fast(edited), "an edited script must go through JBang: " + edited.out());
        assertTrue(edited.out().contains("changed"), edited.out());
        assertTrue(edited.out().contains("value=v2 helper=h1"), "the edit is compiled and run: " + edited.out());
        var again = verbose(script);
        assertTrue(fast(again), again.out());
        assertTrue(again.out().contains("value=v2 helper=h1"), again.out());
    }

    @Test void fastPathPicksUpAnEditToASourcesFile(@TempDir Path dir) throws Exception {
        Path script = scriptWithSources(dir, "v1", "h1");
        verbose(script);
        assertTrue(fast(verbose(script)));
        scriptWithSources(dir, "v1", "h2");
        var edited = verbose(script);
        assertFalse(fast(edited), "an edited //SOURCES file must go through JBang: " + edited.out());
        assertTrue(edited.out().contains("value=v1 helper=h2"), edited.out());
        assertTrue(fast(verbose(script)));
    }

    @Test void fallsBackToJbangWhenTheCachedCommandNamesAFileThatIsGone(@TempDir Path dir) throws Exception {
        Path script = dir.resolve("WhereAmI.java");
        Files.writeString(script, """
                //JAVA 25+
                public class WhereAmI { public static void main(String[] a) throws Exception {
                    System.out.println("jar=" + WhereAmI.class.getProtectionDomain().getCodeSource().getLocation().toURI().getPath()); } }
                """);
        var first = verbose(script);
        Path jar = Path.of(first.out().replaceAll("(?s).*jar=(\\S+).*", "$1"));
        assertTrue(Files.isRegularFile(jar), first.out());
        assertTrue(fast(verbose(script)));
        Files.delete(jar);   // this script's own jar in JBang's cache
        var gone = verbose(script);
        assertTrue(gone.out().contains("[launcher] jbang: a file of the cached command is gone"), gone.out());
        assertEquals(0, gone.code(), gone.out());
        assertTrue(Files.isRegularFile(jar), "JBang built the jar again: " + gone.out());
        assertTrue(fast(verbose(script)));
    }

    @Test void fallsBackToJbangWhenItsSettingsChangeOrOptionsComeFirst(@TempDir Path dir) throws Exception {
        Path script = dir.resolve("Prop.java");
        Files.writeString(script, """
                //JAVA 25+
                public class Prop { public static void main(String[] a) { System.out.println("x=" + System.getProperty("x")); } }
                """);
        verbose(script);
        assertTrue(fast(verbose(script)));
        var withSetting = launch(Map.of("JBANG_LAUNCHER_VERBOSE", "1", "JBANG_SOMETHING", "1"), List.of(), script.toString());
        assertTrue(withSetting.out().contains("[launcher] jbang: JDK, JBang or JBANG_* settings changed"), withSetting.out());
        var option = launch(VERBOSE, List.of(), "-Dx=y", script.toString());
        assertTrue(option.out().contains("[launcher] jbang: not a plain"), option.out());
        assertTrue(option.out().contains("x=y"), "JBang's own option still works: " + option.out());
        var off = launch(Map.of("JBANG_LAUNCHER_VERBOSE", "1", "JBANG_LAUNCHER_FAST", "0"), List.of(), script.toString());
        assertFalse(fast(off), off.out());
        assertTrue(off.out().contains("x=null"), off.out());
    }

    @Test void argumentsPassThroughTheFastPathExactly(@TempDir Path dir) throws Exception {
        Path script = scriptWithSources(dir, "v1", "h1");
        String[] args = {"a b", "it's", "\"quoted\"", "$HOME", "*", "", "--", "-Dx=y", "--verbose", "tab\there", "back\\slash"};
        var expected = new ArrayList<String>();
        for (String a : args) expected.add("arg[" + a + "]");
        var slow = verbose(script, args);   // JBang's path: its quoted command line, parsed into words
        assertFalse(fast(slow), slow.out());
        assertEquals(expected, slow.out().lines().filter(l -> l.startsWith("arg[")).toList(), slow.out());
        var r = verbose(script, args);
        assertTrue(fast(r), r.out());
        assertEquals(expected, r.out().lines().filter(l -> l.startsWith("arg[")).toList(), r.out());
    }

    @Test void manyLaunchesAtOnceOfAChangedScriptAllRunIt(@TempDir Path dir) throws Exception {
        Path script = scriptWithSources(dir, "v1", "h1");
        var processes = new ArrayList<Process>();
        for (int i = 0; i < 6; i++) {
            processes.add(new ProcessBuilder(TestKit.projectRoot().resolve("jbang").toString(), script.toString(), "n" + i)
                    .redirectErrorStream(true).start());
        }
        for (int i = 0; i < processes.size(); i++) {
            Process p = processes.get(i);
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(120, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), out);
            assertTrue(out.contains("value=v1 helper=h1") && out.contains("arg[n" + i + "]"), out);
        }
        var after = verbose(script);
        assertTrue(fast(after), "the cache one of them wrote is whole: " + after.out());
    }

    // ---- What JBang prints on exit status 255, and its build lock

    /**
     * A stand-in for JBang's CLI in a cache folder of its own: its dev.jbang.Main prints $FAKE_JBANG_OUT on stdout and
     * exits with $FAKE_JBANG_EXIT (255 by default: "stdout is a command line, run it"), as JBang does. PrintArgs, beside
     * it, prints its arguments one a line. Returns the JBANG_LAUNCHER_CACHE to use.
     */
    static Path fakeJbang(Path dir) throws Exception {
        Path src = dir.resolve("fake-src"), classes = dir.resolve("fake-classes");
        Files.createDirectories(src.resolve("dev/jbang"));
        Files.writeString(src.resolve("dev/jbang/Main.java"), """
                package dev.jbang;
                public class Main { public static void main(String[] a) {
                    System.out.print(System.getenv().getOrDefault("FAKE_JBANG_OUT", ""));
                    System.out.flush();
                    System.exit(Integer.parseInt(System.getenv().getOrDefault("FAKE_JBANG_EXIT", "255"))); } }
                """);
        Files.writeString(src.resolve("PrintArgs.java"), """
                public class PrintArgs { public static void main(String[] a) { for (String s : a) System.out.println("arg[" + s + "]"); } }
                """);
        int rc = javax.tools.ToolProvider.getSystemJavaCompiler().run(null, null, null, "-d", classes.toString(),
                src.resolve("dev/jbang/Main.java").toString(), src.resolve("PrintArgs.java").toString());
        assertEquals(0, rc, "the stand-in compiles");
        Path jar = dir.resolve("fake-jbang.jar");   // a jar: the launcher's class-data archive of JBang refuses folders
        rc = java.util.spi.ToolProvider.findFirst("jar").orElseThrow().run(System.out, System.err,
                "cf", jar.toString(), "-C", classes.toString(), ".");
        assertEquals(0, rc, "the stand-in's jar");
        String version = Files.readString(TestKit.projectRoot().resolve("jbang")).replaceAll("(?s).*JBANG_LAUNCHER_VERSION:-([0-9.]+)}.*", "$1");
        Path cache = dir.resolve("fake-cache");
        Files.createDirectories(cache.resolve(version));
        Files.writeString(cache.resolve(version).resolve("classpath"), jar.toString());
        return cache;
    }

    /** A word as JBang quotes it for bash (CommandBuffer.escapeBashArgument in JBang 0.132). */
    static String jbangQuoted(String word) {
        return word.matches("[a-zA-Z0-9._+=:@%/-]*") ? word : "'" + word.replace("'", "'\\''") + "'";
    }

    /** The command line JBang would print to run PrintArgs (from the stand-in's classes) with these arguments. */
    static String printArgsCommand(Path cache, String... args) throws Exception {
        String version = Files.list(cache).findFirst().orElseThrow().getFileName().toString();
        var words = new ArrayList<String>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-classpath",
                Files.readString(cache.resolve(version).resolve("classpath")).strip(), "PrintArgs"));
        words.addAll(List.of(args));
        return String.join(" ", words.stream().map(LauncherTest::jbangQuoted).toList());
    }

    static Map<String, String> fakeEnv(Path cache, String out) {
        return Map.of("JBANG_LAUNCHER_CACHE", cache.toString(), "JBANG_LAUNCHER_AOT", "0", "FAKE_JBANG_OUT", out);
    }

    /**
     * A line JBang (or a build step) prints on stdout before the command: under `eval "exec $output"` that line was the
     * command (here it would have created the file `ran`, and the java command would never have run). Parsed, it is
     * named on stderr and the command runs with its arguments exactly as quoted, a $(...) among them left as text.
     */
    @Test void aStrayStdoutLineBeforeTheCommandIsNeitherRunNorBreaksIt(@TempDir Path dir) throws Exception {
        Path cache = fakeJbang(dir);
        Path ran = dir.resolve("ran");
        String[] args = {"a b", "it's", "$(touch " + ran + ")", "line\nbreak", "*"};
        String out = "touch " + ran + "\n" + printArgsCommand(cache, args) + "\n";
        var r = launch(fakeEnv(cache, out), List.of(), "run", "something");
        assertEquals(0, r.code(), r.out());
        assertFalse(Files.exists(ran), "nothing JBang printed was executed: " + r.out());
        assertTrue(r.out().contains("[launcher] JBang printed, not a command: touch " + ran), r.out());
        var printed = new ArrayList<String>();
        for (String a : args) printed.add("arg[" + a + "]");
        assertEquals(String.join("\n", printed), r.out().lines().filter(l -> !l.startsWith("[launcher]")).collect(
                java.util.stream.Collectors.joining("\n")), "each argument arrives whole: " + r.out());
    }

    /** An output on exit status 255 that is no command line in JBang's quoting is an error; nothing in it runs. */
    @Test void anOutputThatIsNotACommandLineIsAnErrorAndNothingRuns(@TempDir Path dir) throws Exception {
        Path cache = fakeJbang(dir);
        Path ran = dir.resolve("ran");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        for (String out : List.of(java + " -version; touch " + ran, java + " $(touch " + ran + ")", "Downloading...\n")) {
            var r = launch(fakeEnv(cache, out), List.of(), "run", "something");
            assertEquals(1, r.code(), out + " -> " + r.out());
            assertTrue(r.out().startsWith("Error: JBang's exit status 255 means 'run this command line', but its output is not one: "), r.out());
            assertFalse(Files.exists(ran), "nothing of " + out + " ran: " + r.out());
        }
    }

    /** Holds the build lock of a cache folder in a `flock` process until its stdin closes; returns once it holds it. */
    static Process holdBuildLock(Path cache) throws Exception {
        String version = Files.list(cache).findFirst().orElseThrow().getFileName().toString();
        Path lock = cache.resolve(version).resolve("jbang.lock");
        Process holder = new ProcessBuilder("flock", lock.toString(), "sh", "-c", "echo held; exec cat >/dev/null").start();
        var line = new java.io.BufferedReader(new java.io.InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8)).readLine();
        assertEquals("held", line, "flock took the lock");
        return holder;
    }

    /** A launcher that finds the build lock taken says so on stderr before it waits, and goes on when it is released. */
    @Test void aWaitForTheBuildLockIsSaidAndEndsWhenTheLockIsReleased(@TempDir Path dir) throws Exception {
        Path cache = fakeJbang(dir);
        Process holder = holdBuildLock(cache);
        try {
            var pb = new ProcessBuilder(TestKit.projectRoot().resolve("jbang").toString(), "--version").redirectErrorStream(true);
            pb.environment().putAll(fakeEnv(cache, "built\n"));
            pb.environment().put("FAKE_JBANG_EXIT", "0");
            Process p = pb.start();
            var reader = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String first = reader.readLine();
            assertNotNull(first, "the launcher said nothing");
            assertTrue(first.startsWith("[launcher] waiting for another JBang build to finish (lock "), first);
            assertTrue(p.isAlive(), "it waits while the lock is held");
            holder.getOutputStream().close();   // release the lock
            assertEquals("built", reader.readLine(), "JBang ran once the lock was free");
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue());
        } finally {
            holder.destroy();
        }
    }

    @Test void aWaitForTheBuildLockIsBounded(@TempDir Path dir) throws Exception {
        Path cache = fakeJbang(dir);
        Process holder = holdBuildLock(cache);
        try {
            var env = new java.util.HashMap<>(fakeEnv(cache, "built\n"));
            env.put("FAKE_JBANG_EXIT", "0");
            env.put("JBANG_LAUNCHER_LOCK_WAIT", "1");
            var r = launch(env, List.of(), "--version");
            assertEquals(1, r.code(), r.out());
            assertTrue(r.out().contains("Error: another JBang build held "), r.out());
            assertFalse(r.out().contains("built"), "JBang did not run without the lock: " + r.out());
        } finally {
            holder.destroy();
        }
    }

    // ---- The AOT cache

    @Test void aServerThatAsksForAnAotCacheGetsOneTrainedInTheBackground(@TempDir Path dir) throws Exception {
        // Trained as a server: started with -p 0 -q, stopped after its ready line. Otherwise it says what it runs with.
        Path script = dir.resolve("AotServer.java");
        Files.writeString(script, """
                //JAVA 25+
                //JAVA_OPTIONS -Djbang.launcher.aot=AotServer
                import java.lang.management.ManagementFactory;
                public class AotServer { public static void main(String[] a) throws Exception {
                    if (a.length > 0 && a[0].equals("-p")) {
                        System.out.println("Listening on tcp://127.0.0.1:1/ mode=training");
                        Thread.sleep(60_000);
                    }
                    boolean aot = ManagementFactory.getRuntimeMXBean().getInputArguments().stream().anyMatch(s -> s.startsWith("-XX:AOTCache="));
                    System.out.println("aot=" + aot);
                } }
                """ + "// " + UUID.randomUUID() + ": JBang's build folder (and so the AOT cache) follows the content; a fresh one per run\n");
        var first = verbose(script);
        assertTrue(first.out().contains("aot=false"), first.out());
        var second = verbose(script);   // the fast path starts the training (the slow path may have, too)
        String all = first.out() + second.out();
        assertTrue(all.contains("AOT cache: training in the background (log: "), all);
        Path log = Path.of(all.replaceAll("(?s).*AOT cache: training in the background \\(log: ([^)]+)\\).*", "$1"));
        Path jarDir = log.getParent();
        awaitTrainingOver(jarDir, log);
        assertNotNull(aotCache(jarDir), "the training wrote no cache; log: " + Files.readString(log));
        var third = verbose(script);
        assertTrue(fast(third), third.out());
        assertTrue(third.out().contains("[launcher] AOT cache " + aotCache(jarDir)), third.out());
        assertTrue(third.out().contains("aot=true"), "the JVM was started with the cache: " + third.out());
        var off = launch(Map.of("JBANG_LAUNCHER_VERBOSE", "1", "JBANG_LAUNCHER_AOT", "0"), List.of(), script.toString());
        assertTrue(off.out().contains("aot=false"), off.out());

        // A script that pulls the server in with //SOURCES inherits its //JAVA_OPTIONS line (JBang merges them), but
        // the marker names the server's main class: no cache is trained for, or given to, the other script.
        Path user = dir.resolve("UsesAotServer.java");
        Files.writeString(user, """
                //JAVA 25+
                //SOURCES AotServer.java
                public class UsesAotServer { public static void main(String[] a) throws Exception { AotServer.main(new String[0]); } }
                """);
        for (int i = 0; i < 2; i++) {
            var r = verbose(user);
            assertTrue(r.out().contains("aot=false"), r.out());
            assertFalse(r.out().contains("AOT cache"), r.out());
        }
    }

    /**
     * A script that serves as an AOT training subject: with -p it prints a ready line and waits; in the training run
     * (-p 0 -q) it first waits for the file `gate` to exist, so the test decides when the training may go on.
     * Without arguments it prints where its jar is.
     */
    static Path gatedAotServer(Path dir, Path gate) throws Exception {
        Path script = dir.resolve("GatedServer.java");
        Files.writeString(script, """
                //JAVA 25+
                //JAVA_OPTIONS -Djbang.launcher.aot=GatedServer
                import java.nio.file.*;
                public class GatedServer { public static void main(String[] a) throws Exception {
                    if (java.util.List.of(a).contains("-q")) while (!Files.exists(Path.of("%s"))) Thread.sleep(20);
                    if (a.length > 0 && a[0].equals("-p")) {
                        System.out.println("Listening on tcp://127.0.0.1:1/ mode=gated");
                        Thread.sleep(120_000);
                    }
                    System.out.println("jar=" + GatedServer.class.getProtectionDomain().getCodeSource().getLocation().toURI().getPath());
                } }
                """.formatted(gate) + "// " + UUID.randomUUID() + ": a build folder (and so an AOT cache) of its own\n");
        return script;
    }

    /** Waits, woken by file system events and bounded, until the training in jarDir is over: its lock is gone. */
    static void awaitTrainingOver(Path jarDir, Path log) throws Exception {
        try (var watch = jarDir.getFileSystem().newWatchService()) {
            jarDir.register(watch, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_DELETE);
            while (training(jarDir)) {
                var key = watch.poll(180, TimeUnit.SECONDS);
                assertNotNull(key, "training took over 3 minutes; log: " + (Files.exists(log) ? Files.readString(log) : "(none)"));
                key.pollEvents();
                key.reset();
            }
        }
    }

    /**
     * `timeout`, a test harness or a service manager stops a command with SIGTERM to its whole process group. The
     * training the first run started must survive that (it runs in a session of its own): it is held at its gate
     * until after the caller's group was killed, and the cache is written afterwards.
     */
    @Test void anAotTrainingSurvivesASigtermToItsCallersProcessGroup(@TempDir Path dir) throws Exception {
        Path gate = dir.resolve("gate");
        Path script = gatedAotServer(dir, gate);
        // setsid: the launcher leads a process group of its own, which the test can signal as a whole.
        var pb = new ProcessBuilder("setsid", TestKit.projectRoot().resolve("jbang").toString(), script.toString(), "-p", "0")
                .redirectErrorStream(true);
        pb.environment().putAll(VERBOSE);
        Process caller = pb.start();
        var out = new StringBuilder();
        var reader = new java.io.BufferedReader(new java.io.InputStreamReader(caller.getInputStream(), StandardCharsets.UTF_8));
        for (String line; (line = reader.readLine()) != null; ) {
            out.append(line).append('\n');
            if (line.startsWith("Listening on")) break;
        }
        assertTrue(out.toString().contains("AOT cache: training in the background (log: "), out.toString());
        Path log = Path.of(out.toString().replaceAll("(?s).*AOT cache: training in the background \\(log: ([^)]+)\\).*", "$1"));
        Path jarDir = log.getParent();
        assertTrue(training(jarDir), "the training is under way, held at its gate: " + out);

        var kill = new ProcessBuilder("kill", "-TERM", "--", "-" + caller.pid()).redirectErrorStream(true).start();
        assertEquals(0, kill.waitFor(), new String(kill.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
        assertTrue(caller.waitFor(60, TimeUnit.SECONDS), "the caller stopped on SIGTERM");
        assertEquals(128 + 15, caller.exitValue(), "the caller was ended by the signal: " + out);

        Files.writeString(gate, "go");   // only now may the training go on
        awaitTrainingOver(jarDir, log);
        assertNotNull(aotCache(jarDir), "the training died with its caller's process group; log: " + Files.readString(log));
    }

    /** A lock whose owner (the pid written in it) is gone does not block: the next run trains at once. */
    @Test void aTrainingLockWhoseOwnerIsGoneIsTakenOverAtOnce(@TempDir Path dir) throws Exception {
        Path gate = dir.resolve("gate");
        Files.writeString(gate, "go");
        Path script = gatedAotServer(dir, gate);
        // A first run without the AOT cache builds the jar; its folder is where the lock goes.
        var built = launch(Map.of("JBANG_LAUNCHER_VERBOSE", "1", "JBANG_LAUNCHER_AOT", "0"), List.of(), script.toString());
        assertEquals(0, built.code(), built.out());
        Path jarDir = Path.of(built.out().replaceAll("(?s).*jar=(\\S+).*", "$1")).getParent();
        assertTrue(Files.isDirectory(jarDir), built.out());
        Path lock = jarDir.resolve(Path.of(System.getProperty("java.home")).getFileName() + ".aot.lock");

        // A live owner (this test's own JVM): the lock is respected, no second training.
        Files.createDirectories(lock);
        Files.writeString(lock.resolve("pid"), ProcessHandle.current().pid() + "\n");
        var respected = verbose(script);
        assertFalse(respected.out().contains("AOT cache: training in the background"), respected.out());

        // An owner that is gone: a process that has ended.
        Process ended = new ProcessBuilder("true").start();
        ended.waitFor();
        Files.writeString(lock.resolve("pid"), ended.pid() + "\n");
        var retried = verbose(script);
        assertTrue(retried.out().contains("AOT cache: training in the background"), "a lock whose owner is gone is taken over: " + retried.out());
        awaitTrainingOver(jarDir, jarDir.resolve("aot.log"));
        assertNotNull(aotCache(jarDir), "the retry wrote the cache; log: " + Files.readString(jarDir.resolve("aot.log")));
    }

    // ---- An installed jbang

    /**
     * A stand-in for an installed JBang, as its own `jbang` script runs it: dev.jbang.Main from JBang's CLI (the one
     * ./jbang fetched), and a command line on exit status 255 to run. It leaves a mark in `marks` when it is used.
     */
    static Path installedJbang(Path dir, Path marks) throws Exception {
        Path bin = dir.resolve("installed-bin");
        Files.createDirectories(bin);
        String version = Files.readString(TestKit.projectRoot().resolve("jbang")).replaceAll("(?s).*JBANG_LAUNCHER_VERSION:-([0-9.]+)}.*", "$1");
        String base = System.getenv("JBANG_LAUNCHER_CACHE") != null ? System.getenv("JBANG_LAUNCHER_CACHE")
                : (System.getenv("XDG_CACHE_HOME") != null ? System.getenv("XDG_CACHE_HOME") : System.getProperty("user.home") + "/.cache") + "/jbang-launcher";
        Path classpath = Path.of(base, version, "classpath");
        assertTrue(Files.isRegularFile(classpath), "./jbang fetched JBang's CLI before: " + classpath);
        Path jbang = bin.resolve("jbang");
        Files.writeString(jbang, """
                #!/usr/bin/env bash
                echo "installed jbang: $*" >>'%s'
                export JBANG_RUNTIME_SHELL=bash
                output=$(java -classpath "$(cat '%s')" dev.jbang.Main "$@")
                rc=$?
                if [ $rc -eq 255 ]; then eval "exec $output"; fi
                [ -n "$output" ] && printf '%%s\\n' "$output"
                exit $rc
                """.formatted(marks, classpath));
        jbang.toFile().setExecutable(true);
        return bin;
    }

    @Test void anInstalledJbangOnPathIsNotUsedSoTheFastPathAndAotCacheStillApply(@TempDir Path dir) throws Exception {
        Path marks = dir.resolve("marks");
        Path bin = installedJbang(dir, marks);
        Path script = scriptWithSources(dir, "v1", "h1");
        var env = Map.of("JBANG_LAUNCHER_VERBOSE", "1", "PATH", bin + ":" + System.getenv("PATH"));
        var first = launch(env, List.of(), script.toString());
        assertTrue(first.out().contains("value=v1 helper=h1"), first.out());
        assertTrue(first.out().contains("[launcher] not using the installed " + bin.resolve("jbang")), first.out());
        var second = launch(env, List.of(), script.toString());
        assertTrue(fast(second), "./jbang's fast path, with a jbang on PATH: " + second.out());
        assertFalse(Files.exists(marks), "the installed jbang never ran: " + (Files.exists(marks) ? Files.readString(marks) : ""));
    }

    @Test void anInstalledJbangRunsEverythingWhenAskedFor(@TempDir Path dir) throws Exception {
        Path marks = dir.resolve("marks");
        Path bin = installedJbang(dir, marks);
        Path script = scriptWithSources(dir, "v1", "h1");
        var r = launch(Map.of("JBANG_LAUNCHER_VERBOSE", "1", "JBANG_LAUNCHER_INSTALLED", "1", "PATH", bin + ":" + System.getenv("PATH")),
                List.of(), script.toString(), "x");
        assertEquals(0, r.code(), r.out());
        assertTrue(r.out().contains("value=v1 helper=h1") && r.out().contains("arg[x]"), r.out());
        assertFalse(fast(r), r.out());
        assertEquals("installed jbang: " + script + " x", Files.readString(marks).strip(), "handed over with the arguments as given");
    }

    @Test void anInstalledJbangRunsEverythingWhenThereIsNoMavenToFetchJbang(@TempDir Path dir) throws Exception {
        Path marks = dir.resolve("marks");
        Path installed = installedJbang(dir, marks);
        Path script = scriptWithSources(dir, "v1", "h1");
        // An empty cache and no mvn: ./jbang cannot fetch its own JBang, so the installed one runs the script.
        var r = launch(Map.of("JBANG_LAUNCHER_VERBOSE", "1", "PATH", installed + ":" + toolsWithoutMaven(dir),
                "JBANG_LAUNCHER_CACHE", dir.resolve("cache").toString()), List.of(), script.toString());
        assertEquals(0, r.code(), r.out());
        assertTrue(r.out().contains("[launcher] installed jbang: " + installed.resolve("jbang") + " (no Maven"), r.out());
        assertTrue(r.out().contains("value=v1 helper=h1"), r.out());
        assertTrue(Files.exists(marks), "the installed jbang ran: " + r.out());
    }

    @Test void anInstalledJbangRunsAScriptOfThisProjectFromItsFolder(@TempDir Path dir) throws Exception {
        // What a user with JBang installed types: `jbang EchoServer.java --help` in the project's folder.
        Path marks = dir.resolve("marks");
        Path bin = installedJbang(dir, marks);
        var pb = new ProcessBuilder(bin.resolve("jbang").toString(), "EchoServer.java", "--help")
                .redirectErrorStream(true).directory(TestKit.projectRoot().toFile());
        pb.environment().put("PATH", Path.of(System.getProperty("java.home"), "bin") + ":" + System.getenv("PATH"));
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("Usage: EchoServer"), out);
    }

    static Path aotCache(Path dir) throws Exception {
        try (var files = Files.list(dir)) {
            return files.filter(f -> f.getFileName().toString().endsWith(".aot")).findFirst().orElse(null);
        }
    }

    static boolean training(Path dir) throws Exception {
        try (var files = Files.list(dir)) {
            return files.anyMatch(f -> f.getFileName().toString().endsWith(".aot.lock"));
        }
    }
}
