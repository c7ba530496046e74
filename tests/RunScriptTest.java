///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//SOURCES TestKit.java
//DESCRIPTION Tests of tests/run itself: a test script counts as failed when it fails, whatever its last line says; skips are named; two lanes.

// tests/run is copied with ./jbang into a scratch project whose tests/ holds small fake test scripts, and run there
// as a real process: its summary line and its exit status are what CI relies on.

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

public class RunScriptTest {
    public static void main(String[] args) { TestKit.run("RunScriptTest", RunScriptTest.class); }

    /**
     * A scratch project with ./jbang, tests/run and fake test scripts, compiled once (each compile costs seconds)
     * and run five ways: all of them, then alone the honest one, the one with a failed test, the one whose
     * prerequisite is missing, and the two that can only end if they run at the same time.
     */
    // Eleven scripts compiled through JBang (one at a time: its lock is machine-wide), then five runs: more than the
    // suite's 120 s default on a busy machine.
    @Test @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void theRunFailsOnAFailedTestAScriptThatExitsNonZeroOrPrintsNoResultLineOrAMissingPrerequisiteAndCountsSkips(@TempDir Path dir) throws Exception {
        Files.createDirectories(dir.resolve("tests"));
        for (String f : List.of("jbang", "tests/run"))
            Files.copy(TestKit.projectRoot().resolve(f), dir.resolve(f), StandardCopyOption.COPY_ATTRIBUTES);
        script(dir, "HonestTest", "// Expected skip: Honest > onlySometimes [b]\n",
                "System.out.println(\"  skip  Honest > onlySometimes [b]: does not apply\\nHonestTest: 2 passed, 0 failed, 1 skipped\");");
        // Skips that the script does not name, or that it names but did not happen: each one a failure.
        script(dir, "SurpriseTest", "// Expected skip: Surprise > named\n", "System.out.println(\"  skip  Surprise > named: as expected\\n"
                + "  skip  Surprise > unnamed [a]: quietly\\nSurpriseTest: 1 passed, 0 failed, 2 skipped\");");
        script(dir, "VanishedTest", "// Expected skip: Vanished > wasSkipped\n", "System.out.println(\"VanishedTest: 3 passed, 0 failed, 0 skipped\");");
        script(dir, "UncountedTest", "", "System.out.println(\"UncountedTest: 1 passed, 0 failed, 1 skipped\");");
        // Two scripts that each wait (bounded) for the other to have started: they pass only if they run at once.
        for (String[] pair : List.of(new String[]{"MeetA", "MeetB"}, new String[]{"MeetB", "MeetA"}))
            script(dir, pair[0] + "Test", "", meet(dir, pair[0], pair[1]));
        script(dir, "FailingTest", "", "System.out.println(\"FailingTest: 1 passed, 1 failed, 0 skipped\"); System.exit(1);");
        script(dir, "LiarTest", "", "System.out.println(\"LiarTest: 3 passed, 0 failed, 0 skipped\"); System.exit(3);");
        script(dir, "CrashTest", "", "throw new IllegalStateException(\"boom\");");
        // Needs a command no machine has (and no package provides, so tests/run does not try to install it); if it
        // ran it would claim a pass.
        script(dir, "NeedyTest", "// Needs: sh no-such-tool-for-run-test\n",
                "System.out.println(\"NeedyTest: 7 passed, 0 failed, 0 skipped\");");

        String all = run(dir, 1);
        assertTrue(all.contains("FAIL LiarTest: exit status 3 although its last line says 0 failed"), all);
        assertTrue(all.contains("FAIL CrashTest: no result line"), all);
        assertTrue(all.contains("FAIL NeedyTest: missing prerequisite no-such-tool-for-run-test"), all);
        assertFalse(all.contains("NeedyTest: 7 passed"), "a script with a missing prerequisite must not run: " + all);
        assertFalse(all.contains("FAIL HonestTest"), all);
        assertTrue(all.contains("FAIL SurpriseTest: unexpected skip: Surprise > unnamed [a]: quietly"), all);
        assertFalse(all.contains("FAIL SurpriseTest: unexpected skip: Surprise > named"), all);
        assertTrue(all.contains("FAIL VanishedTest: the expected skip 'Vanished > wasSkipped' did not happen"), all);
        assertTrue(all.contains("FAIL UncountedTest: its result line counts 1 skipped, its output names 0"), all);
        assertTrue(all.strip().endsWith("13 passed, 7 failed, 4 skipped"), all);

        String honest = run(dir, 0, "Honest");
        assertTrue(honest.strip().endsWith("2 passed, 0 failed, 1 skipped"), honest);

        String failing = run(dir, 1, "Failing");
        assertTrue(failing.strip().endsWith("1 passed, 1 failed, 0 skipped"), failing);

        String needy = run(dir, 1, "Needy");
        assertTrue(needy.strip().endsWith("0 passed, 1 failed, 0 skipped"), needy);

        // Two lanes: both ran at once (neither could end otherwise), each one's output printed whole, in one piece,
        // and the last line sums both.
        for (String name : List.of("MeetA", "MeetB")) Files.delete(dir.resolve(name + ".started"));   // they met in the run of all
        String meet = run(dir, 0, "Meet");
        for (String name : List.of("MeetA", "MeetB"))
            assertTrue(meet.contains("== " + name + "Test\n" + name + " started\n" + name + " met the other\n" + name + "Test: 1 passed"), meet);
        assertTrue(meet.strip().endsWith("2 passed, 0 failed, 0 skipped"), meet);
    }

    /**
     * The body of a fake script that prints a line, marks that it started (a file), waits up to 120 s for the other
     * one's mark, and passes only if it came: run one after the other, the first would fail.
     */
    static String meet(Path dir, String me, String other) {
        Path mine = dir.resolve(me + ".started"), theirs = dir.resolve(other + ".started");
        return ("System.out.println(\"%s started\"); try { java.nio.file.Files.createFile(java.nio.file.Path.of(\"%s\"));"
                + " long end = System.nanoTime() + 120_000_000_000L;"
                + " while (!java.nio.file.Files.exists(java.nio.file.Path.of(\"%s\")) && System.nanoTime() < end) Thread.sleep(10);"
                + " } catch (Exception e) { throw new RuntimeException(e); }"
                + " boolean met = java.nio.file.Files.exists(java.nio.file.Path.of(\"%s\"));"
                + " System.out.println(met ? \"%s met the other\" : \"%s waited 120 s alone\");"
                + " System.out.println(\"%sTest: \" + (met ? \"1 passed, 0 failed\" : \"0 passed, 1 failed\") + \", 0 skipped\"); System.exit(met ? 0 : 1);")
                .formatted(me, mine, theirs, theirs, me, me, me);
    }

    /** Runs the scratch project's tests/run with these words and checks its exit status; returns what it printed. */
    static String run(Path dir, int expectedStatus, String... words) throws Exception {
        var cmd = new java.util.ArrayList<>(List.of(dir.resolve("tests/run").toString()));
        cmd.addAll(List.of(words));
        var p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "tests/run still running: " + out);
        assertEquals(expectedStatus, p.exitValue(), "exit status of tests/run " + String.join(" ", words) + ":\n" + out);
        return out;
    }

    static void script(Path dir, String name, String header, String body) throws Exception {
        Files.writeString(dir.resolve("tests/" + name + ".java"),
                header + "public class " + name + " { public static void main(String[] a) { " + body + " } }\n");
    }
}
