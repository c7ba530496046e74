// perf for Counts (compare/Counts.java): the system calls of one server process tree, by kind, from the syscall
// tracepoints, counted for a cgroup v2 the tree is moved into, so that every thread is counted, those born later too.

import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;
import java.util.concurrent.*;

/**
 * One `perf stat -a -G CGROUP -I 50` per server process, started on the first count and kept until the process
 * ends: the process tree is moved into a cgroup v2 of its own (no controller is enabled in it: nothing about the
 * process changes), and perf counts only what that cgroup's threads do, threads and processes born later included.
 * The events start disabled; a count enables them ("Events enabled" in perf's output), disables them ("Events
 * disabled"), and adds up the 50 ms intervals perf printed in between and the first one after. Starting perf
 * once, not per count, keeps counting cheap; a disabled event costs nothing.
 */
final class Perf {
    record Result(Map<Counts.Kind, Long> byKind, double contextSwitches) {}

    static final int INTERVAL_MS = 50;
    private static volatile Boolean usable;
    private static volatile String why = "";
    private static volatile List<String> events = List.of();
    private static final Map<Long, Perf> RUNNING = new ConcurrentHashMap<>();

    final Process process;
    final Path dir, cgroup;
    final RandomAccessFile ctl, ack;
    private final Deque<String> lastLines = new ArrayDeque<>();
    // What the reader thread has seen since begin(): the counts, and whether the window is open or closing.
    private final Object lock = new Object();
    private final List<String> window = new ArrayList<>();
    private boolean enabled, disabled, drained, ended;

    /** perf on the PATH, the syscall tracepoints readable, and a cgroup v2 hierarchy we may write to. */
    static boolean usable(List<String> notes) {
        if (usable == null) {
            synchronized (Perf.class) {
                if (usable == null) {
                    var found = new ArrayList<String>();
                    Path tracing = Files.isDirectory(Path.of("/sys/kernel/tracing/events/syscalls")) ? Path.of("/sys/kernel/tracing/events/syscalls")
                            : Path.of("/sys/kernel/debug/tracing/events/syscalls");
                    for (Counts.Kind k : Counts.Kind.values())
                        for (String c : k.calls) if (Files.isDirectory(tracing.resolve("sys_enter_" + c))) found.add("syscalls:sys_enter_" + c);
                    events = List.copyOf(found);
                    if ("off".equals(System.getenv("COMPARE_PERF"))) why = "perf not used (COMPARE_PERF=off)";
                    else if (!Util.onPath("perf")) why = "no perf on the PATH (Debian: apt-get install linux-perf)";
                    else if (found.isEmpty()) why = "the syscall tracepoints are not readable (" + tracing + "; root, or kernel.perf_event_paranoid)";
                    else if (CgroupV2.root() == null) why = "no writable cgroup v2 hierarchy to count the server's threads in";
                    usable = why.isEmpty();
                }
            }
        }
        if (!usable && !notes.contains(why)) notes.add(why);
        return usable;
    }

    /** The perf counting this process's tree, started (events disabled) on first use. */
    static Perf of(long pid) throws IOException {
        try {
            return RUNNING.computeIfAbsent(pid, p -> {
                try {
                    return new Perf(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    private Perf(long pid) throws IOException {
        dir = Files.createTempDirectory("counts-");
        Path ctlFifo = dir.resolve("ctl"), ackFifo = dir.resolve("ack");
        var mk = Processes.run(List.of("mkfifo", ctlFifo.toString(), ackFifo.toString()));
        if (mk.exit() != 0) throw new IOException("mkfifo: " + mk.output().strip());
        CgroupV2.removeLeftovers();
        cgroup = CgroupV2.create("compare-counts-" + pid + "-" + System.nanoTime());
        CgroupV2.moveTree(pid, cgroup);
        String name = CgroupV2.root().relativize(cgroup).toString();
        var cmd = new ArrayList<>(List.of("perf", "stat", "-x", ",", "-a", "--no-big-num", "-I", String.valueOf(INTERVAL_MS),
                "-e", String.join(",", events) + ",context-switches",
                "-G", String.join(",", Collections.nCopies(events.size() + 1, name)),
                "-D", "-1", "--control", "fifo:" + ctlFifo + "," + ackFifo, "--", "cat"));
        // cat waits on its standard input, which is ours: closing it ends cat, and perf with it. perf prints its
        // counts on stderr, unbuffered: each interval is read as it is printed.
        process = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        Processes.Procs.track(process);
        Thread.ofPlatform().daemon().name("perf-" + pid).start(this::read);
        // Both FIFOs opened read-write: neither open waits for perf, which opens them when it is ready.
        ctl = new RandomAccessFile(ctlFifo.toFile(), "rw");
        ack = new RandomAccessFile(ackFifo.toFile(), "rw");
        command("ping");
        Util.deleteTree(dir);   // both ends of both FIFOs are open now: the names are not needed, and nothing is left behind
        ProcessHandle.of(pid).ifPresentOrElse(h -> h.onExit().thenRun(this::close), this::close);
        Runtime.getRuntime().addShutdownHook(new Thread(this::close, "stop-perf"));
    }

    private void read() {
        try (var r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            for (String l; (l = r.readLine()) != null; ) {
                synchronized (lock) {
                    lastLines.addLast(l);
                    if (lastLines.size() > 5) lastLines.removeFirst();
                    if (l.startsWith("Events enabled")) enabled = true;
                    else if (l.startsWith("Events disabled") && enabled) disabled = true;
                    else if (enabled && !drained) {
                        window.add(l);
                        // The first complete interval after the events were disabled holds the last of the counts.
                        if (disabled && l.contains(",context-switches,")) drained = true;
                    }
                    lock.notifyAll();
                }
            }
        } catch (IOException ignored) {
            // perf ended
        }
        synchronized (lock) {
            ended = true;
            lock.notifyAll();
        }
    }

    /** Enables the events; returns once perf has. */
    synchronized void begin() throws IOException {
        synchronized (lock) {
            window.clear();
            enabled = disabled = drained = false;
        }
        command("enable");
        await(() -> enabled, "Events enabled");
    }

    /** Disables the events and returns what they counted since begin(). */
    synchronized Result end() throws IOException {
        command("disable");
        await(() -> drained, "an interval after the events were disabled");
        synchronized (lock) {
            return parse(window);
        }
    }

    private void await(java.util.function.BooleanSupplier done, String what) throws IOException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        synchronized (lock) {
            while (!done.getAsBoolean()) {
                long left = deadline - System.nanoTime();
                if (ended || left <= 0) throw new IOException("perf printed no " + what + log());
                try {
                    TimeUnit.NANOSECONDS.timedWait(lock, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted");
                }
            }
        }
    }

    /** Sends a control command and waits for perf's "ack". */
    private void command(String c) throws IOException {
        ctl.write((c + "\n").getBytes(StandardCharsets.US_ASCII));
        var reply = CompletableFuture.supplyAsync(() -> {
            try {
                return ack.readLine();
            } catch (IOException e) {
                return null;
            }
        });
        try {
            String r = reply.get(20, TimeUnit.SECONDS);
            // perf writes "ack\n" and the string's terminating zero byte, which starts the next line read.
            if (r == null || !r.replace("\0", "").startsWith("ack")) throw new IOException("perf answered " + r + " to " + c + log());
        } catch (InterruptedException | ExecutionException | TimeoutException e) {
            throw new IOException("no answer from perf to " + c + log());
        }
    }

    private String log() {
        synchronized (lock) {
            return lastLines.isEmpty() ? "" : ": " + String.join(" | ", lastLines);
        }
    }

    /** Ends perf and removes its cgroup (once the process it counted has ended, or this JVM ends). */
    private void close() {
        if (!RUNNING.values().remove(this)) return;   // closed already (the process ended, then this JVM)
        try {
            process.getOutputStream().close();   // cat ends, perf with it
            if (!process.waitFor(5, TimeUnit.SECONDS)) process.destroyForcibly();
            ctl.close();
            ack.close();
        } catch (IOException | InterruptedException ignored) {
            // perf is gone either way; the FIFOs are deleted with the folder
        }
        CgroupV2.remove(cgroup);
    }

    /** perf's CSV lines, `time,count,unit,event,cgroup,...`; "<not counted>" is 0 (nothing of that kind happened). */
    static Result parse(List<String> lines) {
        var byKind = new EnumMap<Counts.Kind, Long>(Counts.Kind.class);
        double switches = Double.NaN;
        for (String l : lines) {
            var f = Arrays.asList(l.split(",", -1));
            int e = f.indexOf("context-switches");
            for (int i = 0; e < 0 && i < f.size(); i++) if (f.get(i).startsWith("syscalls:sys_enter_")) e = i;
            if (e < 2) continue;
            String count = f.get(e - 2).strip();
            long n = count.matches("\\d+") ? Long.parseLong(count) : 0;
            if (f.get(e).equals("context-switches")) {
                switches = (Double.isNaN(switches) ? 0 : switches) + n;
                continue;
            }
            String call = f.get(e).substring("syscalls:sys_enter_".length());
            for (Counts.Kind k : Counts.Kind.values()) if (k.calls.contains(call)) byKind.merge(k, n, Long::sum);
        }
        for (Counts.Kind k : Counts.Kind.values()) if (events.contains("syscalls:sys_enter_" + k.calls.getFirst()) || byKind.containsKey(k)) byKind.putIfAbsent(k, 0L);
        return new Result(byKind, Double.isNaN(switches) ? 0 : switches);
    }
}

/** A cgroup v2 of the server's own: perf counts what its members do, including threads born later. */
final class CgroupV2 {
    private static volatile Optional<Path> root;

    /** The cgroup2 mount, if there is one we can create folders in (we are root), else null. */
    static Path root() {
        if (root == null) {
            Path found = null;
            try {
                for (String l : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                    String[] f = l.split(" ");
                    int dash = Arrays.asList(f).indexOf("-");
                    if (dash > 0 && dash + 1 < f.length && f[dash + 1].equals("cgroup2") && Files.isWritable(Path.of(f[4]))) {
                        found = Path.of(f[4]);
                        break;
                    }
                }
            } catch (IOException | RuntimeException notLinux) {
                // no /proc: no cgroups
            }
            root = Optional.ofNullable(found);
        }
        return root.orElse(null);
    }

    static Path create(String name) throws IOException {
        return Files.createDirectory(root().resolve(name));
    }

    /** Moves every process of the tree into the cgroup (their threads go with them; what they start later is born in it). */
    static void moveTree(long pid, Path cgroup) throws IOException {
        var tree = Counts.Proc.tree(pid);
        if (tree.isEmpty()) throw new IOException("process " + pid + " is gone");
        for (long p : tree) Files.writeString(cgroup.resolve("cgroup.procs"), p + "\n");
    }

    /** Empty cgroups of earlier runs whose JVM ended without its shutdown hooks (a test harness halts): rmdir takes only empty ones. */
    static void removeLeftovers() {
        try (var dirs = Files.list(root())) {
            dirs.filter(d -> d.getFileName().toString().startsWith("compare-counts-")).forEach(CgroupV2::remove);
        } catch (IOException ignored) {
            // nothing to tidy
        }
    }

    static void remove(Path cgroup) {
        try {
            Files.deleteIfExists(cgroup);
        } catch (IOException stillUsed) {
            // a process that ended in it is still being reaped (or Compare was killed): an empty folder, harmless
        }
    }
}
