//SOURCES ../Compare.java

// The shared HTTP contract (docs/http-contract.md) as JUnit tests. The checks themselves are defined once, in
// compare/Contract.java (Contract.CHECKS), where `./jbang Compare.java test` runs them against any server too; this
// class turns each check into one dynamic test per mode. Each HTTP server's test script subclasses it and says how
// to start that server:
//   tests/SimpleHttpServerTest.java   -> SimpleHttpServer (single, pool, virtual)
//   tests/ThreadedHttpServerTest.java -> ThreadedHttpServer (sequential, thread, pool, virtual, nio, processes)
// Requests are raw bytes with explicit \r\n; responses are read off the wire by compare/Wire.java.

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestInstance;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class HttpContract {
    /** A running server under test. close() stops it and everything it started. */
    public interface Target extends AutoCloseable {
        int port();
    }

    /** The modes to test, as given to -m. */
    protected abstract List<String> modes();

    /** Starts the server with -p 0 -q -m mode --root root, and --directory directory unless it is null. */
    protected abstract Target start(String mode, Path root, Path directory) throws Exception;

    /** The value of "server" in /health. */
    protected abstract String serverName();

    /** False for a mode that serves one connection at a time (tests that hold two connections open skip it). */
    protected boolean servesConnectionsConcurrently(String mode) { return true; }

    /** True for a mode in which one slow request delays requests on other connections. */
    protected boolean slowRequestBlocksOthers(String mode) { return false; }

    // ---------------------------------------------------------------- fixtures: the contract's web root, servers

    Contract.Fixture fixture;
    final Map<String, Target> servers = new ConcurrentHashMap<>();
    final Map<String, Target> serversWithoutDirectory = new ConcurrentHashMap<>();

    @BeforeAll void createFiles() throws Exception {
        fixture = Contract.Fixture.create();
    }

    @AfterAll void stopServers() throws Exception {
        for (var t : servers.values()) t.close();
        for (var t : serversWithoutDirectory.values()) t.close();
        fixture.delete();
    }

    /** The server for this mode (one per mode, shared by the tests), started on first use. */
    int port(String mode) {
        return servers.computeIfAbsent(mode, m -> startOrFail(m, fixture.uploads())).port();
    }

    Target startOrFail(String mode, Path directory) {
        try {
            return start(mode, fixture.root(), directory);
        } catch (Exception e) {
            throw new IllegalStateException("could not start the server in mode " + mode, e);
        }
    }

    /** What the checks may expect of this server in this mode. */
    Contract.Site site(String mode) {
        return new Contract.Site() {
            @Override public int port() { return HttpContract.this.port(mode); }
            @Override public String expectedServer() { return serverName(); }
            @Override public String expectedMode() { return mode; }
            @Override public Contract.Fixture fixture() { return fixture; }
            @Override public boolean servesConnectionsConcurrently() { return HttpContract.this.servesConnectionsConcurrently(mode); }
            @Override public Boolean slowRequestBlocksOthers() { return HttpContract.this.slowRequestBlocksOthers(mode); }
            @Override public int portWithoutDirectory() {
                return serversWithoutDirectory.computeIfAbsent(mode, m -> startOrFail(m, null)).port();
            }
        };
    }

    /** Every check of the contract, against every mode: "checkName [mode]". */
    @TestFactory Stream<DynamicNode> contract() {
        return Contract.CHECKS.stream().map(check -> DynamicContainer.dynamicContainer(check.name(),
                modes().stream().map(mode -> DynamicTest.dynamicTest(check.name() + " [" + mode + "]", () -> {
                    try {
                        check.body().run(site(mode));
                    } catch (Contract.Skip skip) {
                        Assumptions.abort(skip.getMessage());
                    }
                }))));
    }
}
