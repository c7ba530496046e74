///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//DESCRIPTION A server whose only work is waiting: every GET is answered 200 after DELAY_MS, on a thread of its own.

// A known difference for bench/compare-aa.sh: two copies 10% apart in delay (10 ms and 11 ms) must be told apart by
// `compare`, with the right sign, at any connection count (closed loop: each connection's throughput is about
// 1000 / DELAY_MS requests/s, whatever the CPU does, because nothing here uses the CPU). Plain JDK (11 or newer: a
// cached thread pool, not virtual threads, so that the `java` on PATH runs it whatever its version), no dependencies:
//   java bench/DelayServer.java 8080 10              (or ./jbang bench/DelayServer.java 8080 10)
//   ./jbang Compare.java compare --a 'cmd:java bench/DelayServer.java {port} 10' --b 'cmd:java bench/DelayServer.java {port} 11'

import com.sun.net.httpserver.HttpServer;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;

public class DelayServer {
    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("Error: usage: DelayServer PORT DELAY_MS (e.g. 8080 10)");
            System.exit(2);
        }
        int port, delayMs;
        try {
            port = Integer.parseInt(args[0]);
            delayMs = Integer.parseInt(args[1]);
        } catch (NumberFormatException e) {
            System.err.println("Error: PORT and DELAY_MS are whole numbers: " + String.join(" ", args));
            System.exit(2);
            return;
        }
        if (port < 0 || port > 65535 || delayMs < 0) {
            System.err.println("Error: PORT is 0..65535 and DELAY_MS at least 0: " + String.join(" ", args));
            System.exit(2);
        }
        System.setProperty("sun.net.httpserver.nodelay", "true");
        byte[] body = ("{\"status\":\"ok\",\"delay_ms\":" + delayMs + "}").getBytes(StandardCharsets.UTF_8);
        var server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 4096);
        server.createContext("/", exchange -> {
            try (exchange) {
                if (!exchange.getRequestMethod().equals("GET") && !exchange.getRequestMethod().equals("HEAD")) {
                    exchange.getResponseHeaders().set("Allow", "GET, HEAD");
                    exchange.sendResponseHeaders(405, -1);
                    return;
                }
                try {
                    Thread.sleep(delayMs);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
                exchange.getResponseHeaders().set("Content-Type", "application/json");
                boolean head = exchange.getRequestMethod().equals("HEAD");
                exchange.sendResponseHeaders(200, head ? -1 : body.length);
                if (!head) exchange.getResponseBody().write(body);
            }
        });
        server.setExecutor(Executors.newCachedThreadPool());
        server.start();
        System.out.println("Listening on http://127.0.0.1:" + server.getAddress().getPort() + "/ delay=" + delayMs + "ms");
    }
}
