// A raw client connection for byte-level conversations with a server on 127.0.0.1, HTTP or not: Compare's contract
// checks and the tests (through tests/TestKit.java) talk to servers with it. It sends exactly the bytes it is given
// and reads HTTP/1.1 responses off the wire as they come (RFC 9112); every read gives up after a timeout.

import java.io.*;
import java.net.*;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.zip.GZIPInputStream;

/** A raw client connection to 127.0.0.1. Every read gives up after READ_TIMEOUT (a failure, never a hang). */
public final class Wire implements AutoCloseable {
    public static final Duration READ_TIMEOUT = Duration.ofSeconds(20);
    public final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    public Wire(int port) throws IOException {
        socket = new Socket();
        socket.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
        socket.setSoTimeout((int) READ_TIMEOUT.toMillis());
        socket.setTcpNoDelay(true);
        in = new BufferedInputStream(socket.getInputStream());
        out = socket.getOutputStream();
    }

    /** A response as it came off the wire. Header names are case-insensitive. */
    public record Reply(String version, int status, String reason, Map<String, List<String>> headers, byte[] body) {
        public String header(String name) {
            var v = headers.get(name);
            return v == null ? null : String.join(", ", v);
        }

        /** The body as UTF-8, gunzipped first if Content-Encoding says gzip. */
        public String text() {
            try {
                byte[] b = "gzip".equalsIgnoreCase(header("Content-Encoding"))
                        ? new GZIPInputStream(new ByteArrayInputStream(body)).readAllBytes() : body;
                return new String(b, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new AssertionError("body says gzip but is not: " + show(body), e);
            }
        }

        @Override public String toString() {
            return version + " " + status + " " + reason + " " + headers + " body=" + show(body);
        }
    }

    /** Sends one raw request on a fresh connection and reads one response. */
    public static Reply exchange(int port, String rawRequest) throws IOException {
        try (var c = new Wire(port)) {
            c.send(rawRequest);
            return rawRequest.startsWith("HEAD ") ? c.readHeadResponse() : c.readResponse();
        }
    }

    public Wire send(String text) throws IOException { return send(text.getBytes(StandardCharsets.ISO_8859_1)); }

    public Wire send(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
        return this;
    }

    /** Sends the text one byte at a time, pausing between writes, so the server sees many small reads. */
    public Wire trickle(String text, long pauseMillis) throws IOException, InterruptedException {
        for (byte b : text.getBytes(StandardCharsets.ISO_8859_1)) {
            out.write(b);
            out.flush();
            Thread.sleep(pauseMillis);
        }
        return this;
    }

    public void setReadTimeout(Duration d) throws IOException { socket.setSoTimeout((int) d.toMillis()); }

    public void shutdownOutput() throws IOException { socket.shutdownOutput(); }

    public int available() throws IOException { return in.available(); }

    /** One byte, or -1 at end of stream. */
    public int read() throws IOException { return in.read(); }

    /** Reads until the peer closes (returns what came), or fails on the read timeout. */
    public byte[] readToEnd() throws IOException { return in.readAllBytes(); }

    /** Bytes up to and including the first occurrence of the delimiter. */
    public String readUntil(String delimiter) throws IOException {
        var buf = new ByteArrayOutputStream();
        byte[] d = delimiter.getBytes(StandardCharsets.ISO_8859_1);
        while (true) {
            int b = in.read();
            if (b < 0) throw new EOFException("closed before '" + show(d) + "'; got: " + show(buf.toByteArray()));
            buf.write(b);
            byte[] sofar = buf.toByteArray();
            if (sofar.length >= d.length && Arrays.equals(sofar, sofar.length - d.length, sofar.length, d, 0, d.length))
                return buf.toString(StandardCharsets.ISO_8859_1);
        }
    }

    /** True if the peer closed the connection (EOF or reset) within the time given. */
    public boolean closedByPeer(Duration within) throws IOException {
        socket.setSoTimeout((int) within.toMillis());
        try {
            return in.read() < 0;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException reset) {
            return true;
        }
    }

    /** Reads one HTTP response: status line, fields, then the body by Content-Length, chunked, or to EOF. */
    public Reply readResponse() throws IOException { return readResponse(false); }

    /** A response to HEAD: never a body, whatever the fields say. */
    public Reply readHeadResponse() throws IOException { return readResponse(true); }

    /** Status line, fields, then the body by Content-Length, chunked, or to EOF (RFC 9112 section 6.3). */
    private Reply readResponse(boolean head) throws IOException {
        String statusLine = line();
        if (statusLine == null) throw new EOFException("connection closed before a status line");
        String[] parts = statusLine.split(" ", 3);
        if (parts.length < 2 || !parts[0].startsWith("HTTP/") || !parts[1].matches("\\d{3}"))
            throw new IOException("not a status line: " + show(statusLine));
        int status = Integer.parseInt(parts[1]);
        var headers = new TreeMap<String, List<String>>(String.CASE_INSENSITIVE_ORDER);
        for (String l; !(l = line()).isEmpty(); ) {
            int colon = l.indexOf(':');
            if (colon <= 0) throw new IOException("bad header line: " + show(l));
            headers.computeIfAbsent(l.substring(0, colon), k -> new ArrayList<>()).add(l.substring(colon + 1).strip());
        }
        var r = new Reply(parts[0], status, parts.length > 2 ? parts[2] : "", headers, new byte[0]);
        if (head || status / 100 == 1 || status == 204 || status == 304) return r;
        byte[] body;
        String te = r.header("Transfer-Encoding"), cl = r.header("Content-Length");
        if (te != null && te.toLowerCase(Locale.ROOT).contains("chunked")) {
            var buf = new ByteArrayOutputStream();
            while (true) {
                String sizeLine = line();
                if (sizeLine == null) throw new EOFException("closed inside a chunked body");
                int semi = sizeLine.indexOf(';');
                int size = Integer.parseInt((semi >= 0 ? sizeLine.substring(0, semi) : sizeLine).strip(), 16);
                if (size == 0) {
                    for (String t; (t = line()) != null && !t.isEmpty(); ) { }
                    break;
                }
                buf.write(readExactly(size));
                if (!"".equals(line())) throw new IOException("chunk not followed by CRLF");
            }
            body = buf.toByteArray();
        } else if (cl != null) {
            body = readExactly(Integer.parseInt(cl.strip()));
        } else {
            body = in.readAllBytes();
        }
        return new Reply(r.version(), status, r.reason(), headers, body);
    }

    /** Exactly n bytes (fails if the peer closes first). */
    public byte[] readExactly(int n) throws IOException {
        byte[] b = in.readNBytes(n);
        if (b.length < n) throw new EOFException("wanted " + n + " bytes, got " + b.length + ": " + show(b));
        return b;
    }

    /** A line ending in CRLF (returned without it); null at EOF before any byte. */
    private String line() throws IOException {
        var buf = new ByteArrayOutputStream();
        for (int b; (b = in.read()) >= 0; ) {
            if (b == '\n') {
                byte[] a = buf.toByteArray();
                int n = a.length > 0 && a[a.length - 1] == '\r' ? a.length - 1 : a.length;
                return new String(a, 0, n, StandardCharsets.ISO_8859_1);
            }
            buf.write(b);
        }
        if (buf.size() == 0) return null;
        throw new EOFException("connection closed in the middle of a line: " + show(buf.toByteArray()));
    }

    /** Runs n tasks at once (each on its own virtual thread, all released together) and returns their results; an assertion a task failed is rethrown as it is. */
    public static <T> List<T> concurrently(int n, Callable<T> task) throws Exception {
        var start = new CountDownLatch(1);
        try (var ex = Executors.newVirtualThreadPerTaskExecutor()) {
            var futures = new ArrayList<Future<T>>();
            for (int i = 0; i < n; i++) futures.add(ex.submit(() -> { start.await(); return task.call(); }));
            start.countDown();
            var out = new ArrayList<T>();
            for (var f : futures) {
                try {
                    out.add(f.get(120, TimeUnit.SECONDS));
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof AssertionError a) throw a;
                    throw e;
                }
            }
            return out;
        }
    }

    /** Bytes shown with \r \n and non-printables escaped, cut at 300 characters: for failure messages. */
    public static String show(byte[] b) {
        var sb = new StringBuilder();
        for (byte x : b) {
            int c = x & 0xff;
            if (sb.length() > 300) { sb.append("..."); break; }
            switch (c) {
                case '\r' -> sb.append("\\r");
                case '\n' -> sb.append("\\n");
                default -> sb.append(c >= 32 && c < 127 ? String.valueOf((char) c) : String.format("\\x%02x", c));
            }
        }
        return sb.toString();
    }

    public static String show(String s) { return show(s.getBytes(StandardCharsets.ISO_8859_1)); }

    /**
     * Bytes this client has sent that the server's process has not read yet: this end's send queue plus the server
     * end's receive queue, from the kernel's table; -1 once the connection is gone.
     */
    public long unreadByServer() {
        var c = tcpConnection(socket.getPort(), socket.getLocalPort());
        return c.client() == null || c.server() == null ? -1 : c.client().sendQueue() + c.server().receiveQueue();
    }

    /**
     * Sends the text, then waits until the server's process has read every byte sent so far (the kernel's table says
     * so): the next bytes then reach it in a read of their own, and the server is certainly past these. Fails if the
     * connection goes, or if the server has not read them within the read timeout.
     */
    public Wire sendAndAwaitRead(String text) throws IOException {
        send(text);
        long end = System.nanoTime() + READ_TIMEOUT.toNanos();
        for (long unread; (unread = unreadByServer()) != 0; ) {
            if (unread < 0) throw new EOFException("the connection is gone after " + show(text));
            if (System.nanoTime() > end) throw new SocketTimeoutException("the server has not read " + unread + " bytes sent, after " + show(text));
            try {
                Thread.sleep(10);   // polls a fact the server brings about
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted");
            }
        }
        return this;
    }

    // ---------------------------------------------------------------- the kernel's view of a connection

    /**
     * One end of a TCP connection as the kernel's table shows it: its state in hex ("01" established, "04" FIN_WAIT1),
     * the bytes written and not yet acknowledged by the peer, and the bytes received and not yet read by its process.
     */
    public record TcpEnd(String state, long sendQueue, long receiveQueue) {}

    /** Both ends of a connection between two local ports; an end is null when the kernel no longer has it. */
    public record TcpConnection(TcpEnd server, TcpEnd client) {}

    /**
     * The connection between serverPort and clientPort on this machine, read from /proc/net/tcp (then tcp6) in one
     * pass that stops once both ends are found: the table holds every socket of the machine, TIME_WAIT included.
     */
    public static TcpConnection tcpConnection(int serverPort, int clientPort) {
        var ends = new TcpEnd[2];
        scanTcpTable((local, remote, end) -> {
            if (local == serverPort && remote == clientPort) ends[0] = end;
            else if (local == clientPort && remote == serverPort) ends[1] = end;
            return ends[0] == null || ends[1] == null;
        });
        return new TcpConnection(ends[0], ends[1]);
    }

    /** The server's ends of every connection to serverPort on this machine, by the client's port (one pass). */
    public static Map<Integer, TcpEnd> serverEnds(int serverPort) {
        var ends = new HashMap<Integer, TcpEnd>();
        scanTcpTable((local, remote, end) -> {
            if (local == serverPort && remote != 0) ends.put(remote, end);
            return true;
        });
        return ends;
    }

    interface TcpRow { boolean visit(int localPort, int remotePort, TcpEnd end); }

    /** Visits each socket of /proc/net/tcp, then tcp6, until the visitor returns false. */
    private static void scanTcpTable(TcpRow visitor) {
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            try (var lines = java.nio.file.Files.newBufferedReader(java.nio.file.Path.of(table))) {
                for (String line; (line = lines.readLine()) != null; ) {
                    String[] f = line.strip().split("\\s+");
                    if (f.length <= 4 || !f[4].contains(":") || f[0].equals("sl")) continue;   // the header line
                    String[] queues = f[4].split(":");
                    var end = new TcpEnd(f[3], Long.parseLong(queues[0], 16), Long.parseLong(queues[1], 16));
                    int local = Integer.parseInt(f[1].substring(f[1].lastIndexOf(':') + 1), 16);
                    int remote = Integer.parseInt(f[2].substring(f[2].lastIndexOf(':') + 1), 16);
                    if (!visitor.visit(local, remote, end)) return;
                }
            } catch (IOException noSuchTable) {
                // no IPv6 on this machine
            }
        }
    }

    @Override public void close() throws IOException { socket.close(); }
}
