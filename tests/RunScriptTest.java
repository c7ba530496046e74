///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//SOURCES TestKit.java
//DESCRIPTION Tests of tests/run itself: a test script counts as failed when it fails, whatever its last line says; skips are counted.

// tests/run is copied with ./jbang into a scratch project whose tests/ holds small fake test scripts, and run there
// as a real process: its summary line and its exit status are what CI relies on.

import org.junit.jupiter.api.Test;
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
     * A scratch project with ./jbang, tests/run and five fake test scripts, compiled once (each compile costs seconds)
     * and run four ways: all of them, then alone the honest one, the one with a failed test, and the one whose
     * prerequisite is missing.
     */
    @Test
    void theRunFailsOnAFailedTestAScriptThatExitsNonZeroOrPrintsNoResultLineOrAMissingPrerequisiteAndCountsSkips(@TempDir Path dir) throws Exception {
        Files.createDirectories(dir.resolve("tests"));
        for (String f : List.of("jbang", "tests/run"))
            Files.copy(TestKit.projectRoot().resolve(f), dir.resolve(f), StandardCopyOption.COPY_ATTRIBUTES);
        script(dir, "HonestTest", "", "System.out.println(\"HonestTest: 2 passed, 0 failed, 1 skipped\");");
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
        assertTrue(all.strip().endsWith("6 passed, 4 failed, 1 skipped"), all);

        String honest = run(dir, 0, "Honest");
        assertTrue(honest.strip().endsWith("2 passed, 0 failed, 1 skipped"), honest);

        String failing = run(dir, 1, "Failing");
        assertTrue(failing.strip().endsWith("1 passed, 1 failed, 0 skipped"), failing);

        String needy = run(dir, 1, "Needy");
        assertTrue(needy.strip().endsWith("0 passed, 1 failed, 0 skipped"), needy);
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
