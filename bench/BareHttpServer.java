///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 25+
//DESCRIPTION The baseline for bench/simple-http-server.sh: a bare com.sun.net.httpserver handler answering /health.

// The least code the JDK server needs to answer GET /health with a fixed JSON body of the same size as
// SimpleHttpServer's, on the same executor and with the same TCP_NODELAY setting. Whatever SimpleHttpServer
// costs beyond this is the cost of its own handler code (routing, JSON, headers, logging checks).
//   ./jbang bench/BareHttpServer.java -p 0 -m virtual      (modes: single, pool, virtual; pool has 5 threads)

import com.sun.net.httpserver.HttpServer;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;

public class BareHttpServer {
    public static void main(String[] args) throws Exception {
        int port = 0;
        String mode = "virtual";
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "-p" -> port = Integer.parseInt(args[i + 1]);
                case "-m" -> mode = args[i + 1];
                default -> { System.err.println("Error: unknown option: " + args[i] + " (use -p PORT -m MODE)"); System.exit(2); }
            }
        }
        System.setProperty("sun.net.httpserver.nodelay", "true");
        byte[] body = "{\"status\":\"ok\",\"server\":\"SimpleHttpServer\",\"mode\":\"virtual\",\"port\":12345,\"uptime_ms\":123456}"
                .getBytes(StandardCharsets.UTF_8);
        var server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 4096);
        server.createContext("/health", ex -> {
            ex.getResponseHeaders().set("Content-Type", "application/json");
            ex.sendResponseHeaders(200, body.length);
            try (var out = ex.getResponseBody()) { out.write(body); }
        });
        server.setExecutor(switch (mode) {
            case "single" -> null;
            case "pool" -> Executors.newFixedThreadPool(5);
            case "virtual" -> Executors.newVirtualThreadPerTaskExecutor();
            default -> { System.err.println("Error: unknown mode: " + mode + " (single, pool, virtual)"); System.exit(2); yield null; }
        });
        server.start();
        System.out.println("Listening on http://127.0.0.1:" + server.getAddress().getPort() + "/ mode=" + mode);
    }
}
