// A server's ready line, the one parser of it: Compare (compare/Processes.java) and the tests (tests/TestKit.java,
// tests/Scarce.java) read it here, through //SOURCES. No dependencies beyond the JDK.

import java.net.InetSocketAddress;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A server's ready line, `Listening on http://HOST:PORT/ mode=MODE ...` (tcp:// for the TCP servers; an IPv6 host
 * in brackets, `[::1]`): the one parser of it, for Compare and for the tests (through //SOURCES).
 */
record ReadyLine(String scheme, String host, int port, String mode) {
    private static final Pattern FORM = Pattern.compile("Listening on (\\w+)://(\\[[^]\\s]+]|[^:/\\s]+):(\\d+)(?:/|\\s|$)(?:.*\\bmode=([\\w-]+))?");

    /** The ready line in this line of output, if it is one. */
    static Optional<ReadyLine> of(String line) {
        Matcher m = FORM.matcher(line);
        if (!m.find()) return Optional.empty();
        return Optional.of(new ReadyLine(m.group(1), m.group(2), Integer.parseInt(m.group(3)), m.group(4)));
    }

    /** The address a ready line names (`[::1]` as ::1), or empty when the line is not a ready line. */
    static Optional<InetSocketAddress> parse(String line) {
        return of(line).map(ReadyLine::address);
    }

    InetSocketAddress address() {
        String h = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
        return new InetSocketAddress(h, port);
    }
}
