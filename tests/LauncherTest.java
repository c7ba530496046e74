///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//SOURCES TestKit.java
//DESCRIPTION Tests of the ./jbang launcher: JDK discovery, bootstrap errors, exit codes.

// Runs ./jbang as a user would, with a changed environment, and checks what it prints and its exit status.

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
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

    @Test void saysWhatIsMissingWhenMavenIsNeededButAbsent(@TempDir Path dir) throws Exception {
        // An empty cache forces the bootstrap; a PATH with neither jbang nor mvn makes it impossible.
        Path bin = dir.resolve("bin");
        Files.createDirectories(bin);
        for (String tool : List.of("bash", "sed", "dirname", "readlink", "ls", "sort", "cat", "basename", "mkdir", "env")) {
            Path real = Path.of("/usr/bin", tool).toFile().exists() ? Path.of("/usr/bin", tool) : Path.of("/bin", tool);
            Files.writeString(bin.resolve(tool), "#!/bin/sh\nexec " + real + " \"$@\"\n");
            bin.resolve(tool).toFile().setExecutable(true);
        }
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
}
