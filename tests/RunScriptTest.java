///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//SOURCES TestKit.java
//DESCRIPTION Tests of tests/run itself: a test script counts as failed when it fails, whatever its last line says.

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

    /** A scratch project with ./jbang, tests/run and three fake test scripts, run once: each compile costs seconds. */
    @Test
    void aScriptFailsWhenItExitsNonZeroEvenIfItsLastLineSaysZeroFailedOrWhenItHasNoResultLine(@TempDir Path dir) throws Exception {
        Files.createDirectories(dir.resolve("tests"));
        for (String f : List.of("jbang", "tests/run"))
            Files.copy(TestKit.projectRoot().resolve(f), dir.resolve(f), StandardCopyOption.COPY_ATTRIBUTES);
        script(dir, "HonestTest", "System.out.println(\"HonestTest: 2 passed, 0 failed\");");
        script(dir, "LiarTest", "System.out.println(\"LiarTest: 3 passed, 0 failed\"); System.exit(3);");
        script(dir, "CrashTest", "throw new IllegalStateException(\"boom\");");
        var p = new ProcessBuilder(dir.resolve("tests/run").toString()).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "tests/run still running: " + out);
        assertEquals(1, p.exitValue(), out);
        assertTrue(out.contains("FAIL LiarTest: exit status 3 although its last line says 0 failed"), out);
        assertTrue(out.contains("FAIL CrashTest: no result line"), out);
        assertFalse(out.contains("FAIL HonestTest"), out);
        assertTrue(out.strip().endsWith("5 passed, 2 failed"), out);
    }

    static void script(Path dir, String name, String body) throws Exception {
        Files.writeString(dir.resolve("tests/" + name + ".java"),
                "public class " + name + " { public static void main(String[] a) { " + body + " } }\n");
    }
}
