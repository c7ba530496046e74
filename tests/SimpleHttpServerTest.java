///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//SOURCES TestKit.java
//SOURCES HttpContract.java
//SOURCES ../SimpleHttpServer.java
//DESCRIPTION Tests of SimpleHttpServer: the shared HTTP contract in every mode, and the script as a process.

// The HTTP contract (tests/HttpContract.java) runs against in-process servers in single, pool and virtual mode;
// Process starts ./jbang SimpleHttpServer.java as a user would, to pin the ready line, errors and Ctrl-C.

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

public class SimpleHttpServerTest {
    public static void main(String[] args) {
        TestKit.run("SimpleHttpServerTest", Contract.class, Failures.class, Process.class);
    }

    /** Starts SimpleHttpServer in this JVM, with its options parsed by picocli exactly as from a command line. */
    static SimpleHttpServer.Running startInProcess(String... args) throws Exception {
        var server = new SimpleHttpServer();
        new CommandLine(server).parseArgs(args);
        return server.start();
    }

    public static class Contract extends HttpContract {
        @Override protected List<String> modes() {
            return Arrays.stream(SimpleHttpServer.Mode.values()).map(Enum::name).toList();
        }

        @Override protected Target start(String mode, Path root, Path directory) throws Exception {
            var args = new ArrayList<>(List.of("-p", "0", "-q", "-m", mode, "--root", root.toString()));
            if (directory != null) args.addAll(List.of("--directory", directory.toString()));
            var running = startInProcess(args.toArray(String[]::new));
            return new Target() {
                @Override public int port() { return running.port(); }
                @Override public void close() { running.close(); }
            };
        }

        @Override protected String serverName() { return "SimpleHttpServer"; }

        @Override protected boolean slowRequestBlocksOthers(String mode) { return mode.equals("single"); }
    }

    /** Failures on the server's side still get an answer, and the server goes on. */
    public static class Failures {
        @Test void aFileThatCannotBeWrittenIsA500AndTheServerGoesOn(@TempDir Path dir) throws Exception {
            // A non-empty folder where the upload should go: the rename into place fails.
            Files.createDirectories(dir.resolve("taken/inside"));
            try (var server = startInProcess("-p", "0", "-q", "--directory", dir.toString())) {
                var r = TestKit.exchange(server.port(), "POST /files/taken HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc");
                assertEquals(500, r.status(), r::toString);
                assertTrue(r.text().contains("\"error\""), r::toString);
                assertTrue(Files.isDirectory(dir.resolve("taken/inside")), "the folder is untouched");
                try (var files = Files.list(dir)) {
                    assertEquals(List.of("taken"), files.map(p -> p.getFileName().toString()).toList(), "no temporary file left behind");
                }
                assertEquals(200, TestKit.exchange(server.port(), "GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").status());
            }
        }
    }

    /** The script as its users run it: ./jbang SimpleHttpServer.java ... */
    public static class Process {
        @Test void printsOneReadyLineServesAndStopsOnSigterm() throws Exception {
            try (var server = TestKit.ServerProcess.start("SimpleHttpServer.java", "-p", "0", "-m", "pool")) {
                int port = server.port();
                var r = TestKit.exchange(port, "GET /index.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
                assertEquals(200, r.status(), r::toString);
                assertTrue(r.text().contains("Java network servers"), "serves the project's www/");
                assertTrue(server.output().contains("Listening on http://127.0.0.1:" + port + "/ mode=pool"), server.output());
                int code = server.terminate();
                assertEquals(1, server.output().lines().filter(l -> l.startsWith("Listening on")).count(), server.output());
                assertTrue(server.output().contains("\"GET /index.html HTTP/1.1\" 200"), "access log line: " + server.output());
                assertTrue(server.output().contains("Stopped after"), "a clean stop says so (exit " + code + "): " + server.output());
                assertEquals(143, code, "killed by SIGTERM, after the shutdown hook ran");
            }
        }

        @Test void aTakenPortIsOneErrorLineAndExitCode1() throws Exception {
            try (var first = startInProcess("-p", "0", "-q");
                 var second = TestKit.ServerProcess.start("SimpleHttpServer.java", "-p", String.valueOf(first.port()))) {
                assertEquals(1, second.waitFor(Duration.ofSeconds(120)), second.output());
                String last = second.output().strip().lines().reduce((a, b) -> b).orElse("");
                assertTrue(last.startsWith("Error: cannot listen on 127.0.0.1:" + first.port()), second.output());
                assertTrue(last.contains("-p 0"), "the hint says how to get a free port: " + last);
            }
        }

        @Test void aBadOptionIsOneErrorLineAndExitCode2() throws Exception {
            try (var p = TestKit.ServerProcess.start("SimpleHttpServer.java", "-m", "turbo")) {
                assertEquals(2, p.waitFor(Duration.ofSeconds(120)), p.output());
                String last = p.output().strip().lines().reduce((a, b) -> b).orElse("");
                assertTrue(last.startsWith("Error: ") && last.contains("turbo") && last.contains("single, pool, virtual"), p.output());
            }
            try (var p = TestKit.ServerProcess.start("SimpleHttpServer.java", "--root", "no-such-dir")) {
                assertEquals(2, p.waitFor(Duration.ofSeconds(120)), p.output());
                assertTrue(p.output().strip().endsWith("(run from the project folder, or pass --root)"), p.output());
            }
        }

        @Test void helpListsEveryOptionWithDefaultsAndModes() throws Exception {
            try (var p = TestKit.ServerProcess.start("SimpleHttpServer.java", "--help")) {
                assertEquals(0, p.waitFor(Duration.ofSeconds(120)), p.output());
                for (String s : List.of("--port", "--bind", "--mode", "--workers", "--root", "--directory", "--backlog",
                        "--max-body", "--quiet", "single, pool, virtual", "Default: 8000", "Default: 4096")) {
                    assertTrue(p.output().contains(s), "--help mentions " + s + ":\n" + p.output());
                }
            }
        }
    }
}
