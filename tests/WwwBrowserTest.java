///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//SOURCES TestKit.java
//SOURCES Browser.java
//SOURCES ../SimpleHttpServer.java
//SOURCES ../ThreadedHttpServer.java
//DESCRIPTION The www/ demo page in a real browser (headless Chromium), served by every mode of both HTTP servers.

// For SimpleHttpServer (3 modes) and ThreadedHttpServer (6 modes, processes included), each an in-process server on
// 127.0.0.1 port 0 serving the project's www/: the page loads without console errors, shows who serves it (from
// /health), and submitting the create form shows the created item, which GET /api/items then returns.
// One Chromium serves the whole script. Screenshots: target/screenshots/www-*.png (or $SCREENSHOT_DIR).
// Run: tests/run WwwBrowser   (needs Debian's chromium and chromium-driver; .ci/run installs them)

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

public class WwwBrowserTest {
    public static void main(String[] args) {
        TestKit.run("WwwBrowserTest", Page.class);
    }

    /** A server started in this JVM: its name as /health says it, the mode, and how to stop it. */
    record Served(String server, String mode, int port, AutoCloseable stop) implements AutoCloseable {
        @Override public void close() throws Exception { stop.close(); }
    }

    /** "SimpleHttpServer:pool", "ThreadedHttpServer:processes", ...: every mode of both servers. */
    static Stream<String> servers() {
        return Stream.concat(
                Arrays.stream(SimpleHttpServer.Mode.values()).map(m -> "SimpleHttpServer:" + m),
                Arrays.stream(ThreadedHttpServer.Mode.values()).map(m -> "ThreadedHttpServer:" + m));
    }

    static Served start(String which) throws Exception {
        String server = which.substring(0, which.indexOf(':')), mode = which.substring(which.indexOf(':') + 1);
        var args = new ArrayList<>(List.of("-p", "0", "-q", "-m", mode, "--root", TestKit.projectRoot().resolve("www").toString()));
        if (server.equals("SimpleHttpServer")) {
            var s = new SimpleHttpServer();
            new CommandLine(s).parseArgs(args.toArray(String[]::new));
            var running = s.start();
            return new Served(server, mode, running.port(), running);
        }
        if (mode.equals("processes")) args.addAll(List.of("-w", "2"));   // two worker JVMs: the browser may meet both
        // One connection at a time: the browser's other keep-alive connections wait until the one being served has
        // been idle this long (15 s by default), so the page would take a minute to finish loading.
        if (mode.equals("sequential")) args.addAll(List.of("--idle-timeout", "300"));
        var running = ThreadedHttpServer.parse(args.toArray(String[]::new)).start();
        return new Served(server, mode, running.port(), running);
    }

    @TestInstance(TestInstance.Lifecycle.PER_CLASS)
    public static class Page {
        Browser browser;

        @BeforeAll void startBrowser() throws Exception {
            browser = Browser.start();
            System.out.println("  screenshots: " + Browser.screenshotDir());
        }

        @AfterAll void stopBrowser() { if (browser != null) browser.close(); }

        @ParameterizedTest(name = "{0}")
        @MethodSource("WwwBrowserTest#servers")
        void showsWhoServesItAndTheCreatedItem(String which) throws Exception {
            try (var served = start(which)) {
                String url = "http://127.0.0.1:" + served.port() + "/";
                var errors = browser.open(url);
                assertEquals(List.of(), errors, "console errors on " + url);

                // Who serves it, as /health says.
                browser.await("#server to name " + served.server(), d -> browser.find("#server").getText().equals(served.server()));
                assertEquals(served.mode(), browser.find("#mode").getText(), "mode shown");
                assertEquals(String.valueOf(served.port()), browser.find("#port").getText(), "port shown");

                // Submit the create form with a name no other test uses.
                String name = "browser-" + served.server() + "-" + served.mode() + "-" + System.nanoTime();
                var input = browser.find("#name");
                input.clear();
                input.sendKeys(name);
                browser.find("#create button[type=submit]").click();

                // The response (201 and the item) and the list rebuilt from GET /api/items both show it.
                browser.await("the response to POST /api/create", d -> browser.find("#result").getText().contains(name));
                String result = browser.find("#result").getText();
                assertTrue(result.startsWith("201"), "POST /api/create answered: " + result);
                var item = browser.await("the item in the list from GET /api/items", d -> browser.findAll("#items li").stream()
                        .filter(li -> li.getText().endsWith(" " + name)).findFirst().orElse(null));
                String id = item.getDomAttribute("data-id");
                assertTrue(result.contains("/api/items/" + id), "Location names the listed id " + id + ": " + result);

                // And the server itself returns it to a client that is not the browser.
                var r = Wire.exchange(served.port(), "GET /api/items HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
                assertEquals(200, r.status(), r::toString);
                assertTrue(r.text().contains("\"name\":\"" + name + "\""), "GET /api/items returns the item: " + r.text());
                assertTrue(r.text().contains("\"id\":" + id), "with the id the page showed: " + r.text());

                assertEquals(List.of(), browser.consoleErrors(), "console errors after submitting the form");
                var shot = browser.screenshot("www-" + served.server() + "-" + served.mode());
                System.out.println("        screenshot " + shot);
            }
        }

        @Test void theNestedPageLoadsWithoutConsoleErrors() throws Exception {
            try (var served = start("SimpleHttpServer:virtual")) {
                String url = "http://127.0.0.1:" + served.port() + "/docs/";
                assertEquals(List.of(), browser.open(url), "console errors on " + url);
                assertFalse(browser.find("h1").getText().isBlank(), "the page has a heading");
                browser.screenshot("www-docs");
            }
        }
    }
}
