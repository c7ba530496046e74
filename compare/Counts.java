// Counts: why one model is faster, counted per request from outside the server, without changing it. Around one
// measured run it counts the server's system calls by kind, its context switches, what its JVM allocated and
// collected, and its threads; divided by the requests answered, that is the mechanism beside the timing.
//   Counts.Session s = Counts.start(pid);  ...load...;  Counts c = s.stop(requests);   (or Counts.run(pid, work))
// Sources, each named in the result:
//   system calls   perf's syscall tracepoints (sys_enter_read, ...), counted system-wide but only for a cgroup v2 the
//                  server's process tree is moved into (compare/Perf.java): every thread, those created later too
//                  (`perf stat -p PID` follows only the threads that exist when it attaches). Without perf (or with
//                  COMPARE_PERF=off): /proc/PID/io syscr and syscw (reads and writes only; dead threads included).
//   context switches  /proc/PID/task/*/status, voluntary and involuntary, summed over the live threads (a thread
//                  that ends during the run takes its switches with it); with perf, the total is perf's.
//   allocations, GC   the JVM's own counters, read from outside: its hsperfdata file (what `jcmd PID PerfCounter.print`
//                  reads) for collections, GC time and the survivor spaces, and GC.heap_info through its attach socket
//                  (what `jcmd` talks to) for the young generation's use now; allocated = the growth of eden, plus
//                  eden's capacity at each collection.
//   threads        /proc/PID/status Threads (platform threads, the JVM's own included), sampled every 10 ms: the peak;
//                  virtual threads: the carriers of the JDK's scheduler (`jcmd PID Thread.vthread_scheduler`).
// No printing here; what is not available is NaN (or an empty map) with the reason in `notes`.

import java.io.*;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;
import java.util.concurrent.*;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a server did during one measured run, per kind, and the requests it answered in it. NaN (or absent from
 * `syscalls`) where the machine cannot count it; `notes` says why. `procReadsWrites` is /proc/PID/io's view of the
 * same window (reads and writes), kept beside perf's so that the two can be checked against each other.
 */
record Counts(long requests, String syscallSource, Map<Counts.Kind, Long> syscalls, Map<Counts.Kind, Long> procReadsWrites, String switchSource, double contextSwitches,
              double voluntarySwitches, double involuntarySwitches, String jvmSource, double allocatedBytes, double collections,
              double gcMs, double peakThreads, double carrierThreads, List<String> notes) {

    /** The kinds of system call counted, each with the calls that make it up (the x86-64 and arm64 names). */
    enum Kind {
        READ("read", "read", "readv", "pread64", "recvfrom", "recvmsg"),
        WRITE("write", "write", "writev", "pwrite64", "sendto", "sendmsg", "sendfile64"),
        EPOLL_WAIT("epoll_wait", "epoll_wait", "epoll_pwait", "epoll_pwait2"),
        EPOLL_CTL("epoll_ctl", "epoll_ctl"),
        POLL("poll/select", "poll", "ppoll", "select", "pselect6"),
        FUTEX("futex", "futex", "futex_waitv"),
        ACCEPT("accept", "accept", "accept4");

        final String label;
        final List<String> calls;

        Kind(String label, String... calls) {
            this.label = label;
            this.calls = List.of(calls);
        }
    }

    /** Per request: NaN when not counted or no request was answered. */
    double perRequest(double n) { return requests > 0 ? n / requests : Double.NaN; }

    double perRequest(Kind k) { return syscalls.containsKey(k) ? perRequest(syscalls.get(k)) : Double.NaN; }

    /** epoll_wait and epoll_ctl together: what the poller cost per request (NaN where neither was counted). */
    double pollerPerRequest() {
        if (!syscalls.containsKey(Kind.EPOLL_WAIT) && !syscalls.containsKey(Kind.EPOLL_CTL)) return Double.NaN;
        return perRequest(syscalls.getOrDefault(Kind.EPOLL_WAIT, 0L) + syscalls.getOrDefault(Kind.EPOLL_CTL, 0L));
    }

    static final String NOT_AVAILABLE = "not available";

    /** A row of a report: its name, its unit, and its value from one run's counts (NaN: not counted). */
    record Row(String name, String unit, java.util.function.ToDoubleFunction<Counts> value) {
        double of(Counts c) { return c == null ? Double.NaN : value.applyAsDouble(c); }
    }

    /** The rows Compare shows for each closed-loop load, and the experiments for each model. */
    static final List<Row> ROWS = List.of(
            new Row("read syscalls per request", "calls", c -> c.perRequest(Kind.READ)),
            new Row("write syscalls per request", "calls", c -> c.perRequest(Kind.WRITE)),
            new Row("poller calls per request", "calls", Counts::pollerPerRequest),
            new Row("context switches per request", "switches", c -> c.perRequest(c.contextSwitches())),
            new Row("allocated bytes per request", "B", c -> c.perRequest(c.allocatedBytes())),
            new Row("threads (peak)", "threads", Counts::peakThreads));

    /** Everything counted, for --json: totals, per request, and the source of each. */
    Map<String, Object> json() {
        var x = new LinkedHashMap<String, Object>();
        x.put("requests", requests);
        var calls = new LinkedHashMap<String, Object>();
        syscalls.forEach((k, n) -> {
            var call = new LinkedHashMap<String, Object>();   // not Map.of: per_request is null when no request was answered
            call.put("total", n);
            call.put("per_request", num(perRequest(k)));
            calls.put(k.label, call);
        });
        x.put("syscalls", calls);
        x.put("syscall_source", syscallSource);
        var proc = new LinkedHashMap<String, Object>();
        procReadsWrites.forEach((k, n) -> proc.put(k.label, n));
        x.put("proc_io_reads_writes", proc);
        x.put("context_switches", num(contextSwitches));
        x.put("voluntary_context_switches", num(voluntarySwitches));
        x.put("involuntary_context_switches", num(involuntarySwitches));
        x.put("context_switch_source", switchSource);
        x.put("allocated_bytes", num(allocatedBytes));
        x.put("collections", num(collections));
        x.put("gc_ms", num(gcMs));
        x.put("jvm_source", jvmSource);
        x.put("peak_threads", num(peakThreads));
        x.put("virtual_thread_carriers", num(carrierThreads));
        for (var row : ROWS) x.put(row.name().replace(' ', '_').replace("(", "").replace(")", ""), num(row.of(this)));
        x.put("notes", notes);
        return x;
    }

    static Double num(double v) { return Double.isFinite(v) ? v : null; }

    /** The sources of a run's counts in one line, for footers: "system calls: perf ...; context switches: ...". */
    String sources() {
        return "system calls: " + syscallSource + "; context switches: " + switchSource + "; allocations and GC: " + jvmSource
                + "; threads: /proc/PID/status sampled every 10 ms";
    }

    /** Counts around `work`, which returns the requests answered. */
    static Counts run(long pid, Callable<Long> work) throws Exception {
        var s = start(pid);
        long requests;
        try {
            requests = work.call();
        } catch (Exception e) {
            s.abandon();
            throw e;
        }
        return s.stop(requests);
    }

    /** Starts counting the process `pid` and everything it started; returns once every counter runs. */
    static Session start(long pid) {
        return new Session(pid);
    }

    /** One counting window: perf (or /proc) and the JVM's counters read at the start, read again at stop(). */
    static final class Session {
        final long pid;
        final List<String> notes = new ArrayList<>();
        final Perf perf;
        final Map<Long, long[]> switchesAtStart;
        final long[] ioAtStart;
        final Map<Long, Jvm.Snapshot> jvmAtStart;
        final ThreadPeak threads;

        Session(long pid) {
            this.pid = pid;
            // The JVM's counters first and last, outside perf's window: reading them makes the JVM read and write its
            // attach socket, which is not the server's work.
            var pids = Proc.tree(pid);
            jvmAtStart = Jvm.snapshot(pids, notes);
            threads = ThreadPeak.start(pids);
            switchesAtStart = Proc.switches(pids);
            ioAtStart = Proc.io(pids);
            Perf p = null;
            if (Perf.usable(notes)) {
                try {
                    p = Perf.of(pid);
                    p.begin();
                } catch (IOException | RuntimeException e) {
                    notes.add("perf could not start (" + e.getMessage() + "): reads and writes from /proc/PID/io instead");
                    p = null;
                }
            }
            perf = p;
        }

        /** Stops counting: `requests` is what the server answered while the session ran. */
        Counts stop(long requests) {
            Map<Kind, Long> syscalls = new EnumMap<>(Kind.class);
            String syscallSource = NOT_AVAILABLE, switchSource = NOT_AVAILABLE;
            double total = Double.NaN;
            if (perf != null) {
                try {
                    var r = perf.end();
                    syscalls.putAll(r.byKind());
                    total = r.contextSwitches();
                    syscallSource = "perf syscall tracepoints (cgroup of the process tree)";
                } catch (IOException | RuntimeException e) {
                    notes.add("perf failed (" + e.getMessage() + "): reads and writes from /proc/PID/io instead");
                }
            }
            var pids = Proc.tree(pid);   // with any process started during the run
            long[] io = Proc.io(pids);
            var switches = Proc.switches(pids);
            double peak = threads.stop();
            var jvmAtEnd = Jvm.snapshot(pids, notes);
            Map<Kind, Long> proc = new EnumMap<>(Kind.class);
            if (io != null && ioAtStart != null) {
                proc.put(Kind.READ, io[0] - ioAtStart[0]);
                proc.put(Kind.WRITE, io[1] - ioAtStart[1]);
            }
            if (syscalls.isEmpty() && !proc.isEmpty()) {
                syscalls.putAll(proc);
                syscallSource = "/proc/PID/io syscr, syscw (reads and writes only)";
            }
            double voluntary = Double.NaN, involuntary = Double.NaN;
            if (switches != null && switchesAtStart != null) {
                long v = 0, i = 0;
                for (var e : switches.entrySet()) {
                    long[] before = switchesAtStart.getOrDefault(e.getKey(), new long[2]);   // a thread born during the run: from 0
                    v += e.getValue()[0] - before[0];
                    i += e.getValue()[1] - before[1];
                }
                voluntary = v;
                involuntary = i;
                switchSource = Double.isNaN(total) ? "/proc/PID/task/*/status (live threads)" : "perf context-switches; split from /proc/PID/task/*/status";
                if (Double.isNaN(total)) total = v + i;
            }
            String jvmSource = NOT_AVAILABLE;
            double allocated = Double.NaN, collections = Double.NaN, gcMs = Double.NaN, carriers = Double.NaN;
            // Every JVM of the tree (processes mode: the workers), summed; one that started during the run is left out.
            var both = jvmAtEnd.keySet().stream().filter(jvmAtStart::containsKey).toList();
            if (!both.isEmpty()) {
                jvmSource = "the JVM's counters (hsperfdata; GC.heap_info through the attach socket)" + (both.size() > 1 ? ", " + both.size() + " JVMs" : "");
                allocated = collections = gcMs = carriers = 0;
                for (long p : both) {
                    Jvm.Snapshot a = jvmAtStart.get(p), b = jvmAtEnd.get(p);
                    allocated += Jvm.allocated(a, b);
                    collections += b.collections() - a.collections();
                    gcMs += b.gcMs() - a.gcMs();
                    carriers += Double.isNaN(b.carriers()) ? 0 : b.carriers();
                }
            }
            return new Counts(requests, syscallSource, syscalls, proc, switchSource, total, voluntary, involuntary, jvmSource, allocated,
                    collections, gcMs, peak, carriers, List.copyOf(notes));
        }

        /** Stops every counter without a result (the run failed). */
        void abandon() {
            threads.stop();
            if (perf != null) {
                try {
                    perf.end();
                } catch (IOException | RuntimeException e) {
                    // nothing to keep from a failed run
                }
            }
        }
    }

    // ================================================================ /proc: the fallback, context switches, threads

    static final class Proc {
        /** The process and its descendants (a server in processes mode, a cmd: side's child). */
        static List<Long> tree(long pid) { return ProcSampler.tree(pid).stream().map(ProcessHandle::pid).toList(); }

        /** syscr and syscw of /proc/PID/io summed over the processes (each covers every thread, dead ones included), or null. */
        static long[] io(List<Long> pids) {
            long[] sum = new long[2];
            boolean any = false;
            for (long p : pids) {
                try {
                    for (String l : Files.readAllLines(Path.of("/proc/" + p + "/io"))) {
                        if (l.startsWith("syscr:")) sum[0] += Long.parseLong(l.substring(6).strip());
                        if (l.startsWith("syscw:")) sum[1] += Long.parseLong(l.substring(6).strip());
                    }
                    any = true;
                } catch (IOException | RuntimeException gone) {
                    // ended, or no /proc
                }
            }
            return any ? sum : null;
        }

        /** Voluntary and involuntary context switches per live thread (key: tid) of the processes, or null without /proc. */
        static Map<Long, long[]> switches(List<Long> pids) {
            var out = new HashMap<Long, long[]>();
            for (long p : pids) {
                try (var tasks = Files.list(Path.of("/proc/" + p + "/task"))) {
                    for (Path t : (Iterable<Path>) tasks::iterator) {
                        long[] vi = new long[2];
                        try {
                            for (String l : Files.readAllLines(t.resolve("status"))) {
                                if (l.startsWith("voluntary_ctxt_switches:")) vi[0] = Long.parseLong(l.substring(24).strip());
                                if (l.startsWith("nonvoluntary_ctxt_switches:")) vi[1] = Long.parseLong(l.substring(27).strip());
                            }
                            out.put(Long.parseLong(t.getFileName().toString()), vi);
                        } catch (IOException | RuntimeException gone) {
                            // the thread ended between listing and reading
                        }
                    }
                } catch (IOException | RuntimeException gone) {
                    // ended, or no /proc
                }
            }
            return out.isEmpty() ? null : out;
        }

        /** Threads of the processes now (/proc/PID/status Threads), or -1 without /proc. */
        static int threads(List<Long> pids) { return (int) ProcSampler.statusSum(pids, "Threads:"); }
    }

    /** The most threads the tree had at once, sampled every 10 ms on a daemon thread. */
    static final class ThreadPeak {
        private final Thread sampler;
        private volatile int peak;
        private volatile boolean running = true;

        private ThreadPeak(List<Long> pids) {
            peak = Proc.threads(pids);
            sampler = Thread.ofPlatform().daemon().name("count-threads").start(() -> {
                while (running) {
                    peak = Math.max(peak, Proc.threads(pids));
                    try {
                        Thread.sleep(10);   // the sampling interval: a thread that lives less than this may be missed
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
        }

        /** Samples the processes known at the start (listing the tree scans all of /proc: too dear every 10 ms). */
        static ThreadPeak start(List<Long> pids) { return new ThreadPeak(pids); }

        double stop() {
            running = false;
            sampler.interrupt();
            return peak < 0 ? Double.NaN : peak;
        }
    }

    // ================================================================ the JVM's counters, through its attach socket

    /** A JVM read from outside as `jcmd` does: the attach socket /tmp/.java_pidPID, started with SIGQUIT the first time. */
    static final class Jvm {
        /** Young-generation use now, its survivors and eden capacity, collections and their time, and scheduler carriers. */
        record Snapshot(double youngUsedBytes, double survivorBytes, double edenCapacityBytes, double collections, double gcMs, double carriers) {}

        private static final Pattern YOUNG = Pattern.compile("(?:DefNew|def new generation|PSYoungGen|young generation)\\s+total \\d+K, used (\\d+)K");
        private static final Pattern G1 = Pattern.compile("garbage-first heap\\s+total .*?used (\\d+)K");
        private static final Pattern CARRIERS = Pattern.compile("parallelism = \\d+, size = (\\d+)");

        /** The counters of the first JVM of the tree (null when it has none, e.g. a cmd: side, or no attach). */
        /** The counters of every JVM of the tree, by pid (empty when it has none, e.g. a cmd: side, or none can be read). */
        static Map<Long, Snapshot> snapshot(List<Long> pids, List<String> notes) {
            var out = new LinkedHashMap<Long, Snapshot>();
            for (long p : pids) {
                if (!isJvm(p)) continue;
                try {
                    var perf = hsperfdata(p);
                    String heap = execute(p, "GC.heap_info");
                    double young;
                    Matcher m = YOUNG.matcher(heap);
                    if (m.find()) young = Double.parseDouble(m.group(1)) * 1024;
                    else {
                        note(notes, "allocations: GC.heap_info shows no young generation this engine knows (Serial, Parallel): " + heap.lines().findFirst().orElse(""));
                        young = Double.NaN;
                    }
                    double freq = perf.getOrDefault("sun.os.hrt.frequency", 1e9);
                    double collections = 0, gcTicks = 0;
                    for (int i = 0; perf.containsKey("sun.gc.collector." + i + ".invocations"); i++) {
                        collections += perf.get("sun.gc.collector." + i + ".invocations");
                        gcTicks += perf.getOrDefault("sun.gc.collector." + i + ".time", 0.0);
                    }
                    double survivors = perf.getOrDefault("sun.gc.generation.0.space.1.used", 0.0) + perf.getOrDefault("sun.gc.generation.0.space.2.used", 0.0);
                    Matcher c = CARRIERS.matcher(execute(p, "Thread.vthread_scheduler"));
                    out.put(p, new Snapshot(young, survivors, perf.getOrDefault("sun.gc.generation.0.space.0.capacity", Double.NaN),
                            collections, gcTicks * 1000 / freq, c.find() ? Double.parseDouble(c.group(1)) : Double.NaN));
                } catch (IOException | RuntimeException e) {
                    note(notes, "the JVM's counters of " + p + ": " + e.getMessage());
                }
            }
            return out;
        }

        static void note(List<String> notes, String n) { if (!notes.contains(n)) notes.add(n); }

        /**
         * Bytes allocated between two snapshots: eden's growth when no collection came between; otherwise eden filled
         * up to its capacity before each collection (a collection of the young generation starts when eden is full),
         * so the bytes are what eden held after the first snapshot up to its capacity, a full eden for each further
         * collection, and what it holds at the end. Eden's use is the young generation's minus its survivor spaces.
         */
        static double allocated(Snapshot a, Snapshot b) {
            double edenA = a.youngUsedBytes() - a.survivorBytes(), edenB = b.youngUsedBytes() - b.survivorBytes();
            double gcs = b.collections() - a.collections();
            if (gcs <= 0) return Math.max(0, edenB - edenA);
            return Math.max(0, a.edenCapacityBytes() - edenA) + (gcs - 1) * b.edenCapacityBytes() + edenB;
        }

        /** The JVM's hsperfdata file (/tmp/hsperfdata_USER/PID, as its own /tmp sees it), or null for a process that is no JVM. */
        static Path hsperfdataFile(long pid) {
            try (var dirs = Files.list(Path.of("/proc/" + pid + "/root/tmp"))) {
                return dirs.filter(d -> d.getFileName().toString().startsWith("hsperfdata_")).map(d -> d.resolve(String.valueOf(pid)))
                        .filter(Files::isRegularFile).findFirst().orElse(null);
            } catch (IOException e) {
                return null;
            }
        }

        static boolean isJvm(long pid) { return hsperfdataFile(pid) != null; }

        /**
         * The JVM's performance counters (what `jcmd PID PerfCounter.print` prints), read from its hsperfdata file: a
         * 32-byte prologue (magic 0xcafec0c0, byte order, ..., entry offset at 24, entry count at 28), then entries of
         * (length, name offset, vector length, type, flags, units, variability, data offset); the numbers are type 'J'.
         */
        static Map<String, Double> hsperfdata(long pid) throws IOException {
            Path f = hsperfdataFile(pid);
            if (f == null) throw new IOException("no hsperfdata file for " + pid + " (-XX:-UsePerfData?)");
            var b = ByteBuffer.wrap(Files.readAllBytes(f));
            if (b.getInt(0) != 0xcafec0c0) throw new IOException("not an hsperfdata file: " + f);
            b.order(b.get(4) == 0 ? java.nio.ByteOrder.BIG_ENDIAN : java.nio.ByteOrder.LITTLE_ENDIAN);
            var out = new HashMap<String, Double>();
            int at = b.getInt(24), n = b.getInt(28);
            for (int i = 0; i < n && at + 20 <= b.limit(); i++) {
                int length = b.getInt(at), nameAt = at + b.getInt(at + 4), vector = b.getInt(at + 8);
                if (length <= 0) break;
                if (b.get(at + 12) == 'J' && vector == 0) {
                    int end = nameAt;
                    while (end < b.limit() && b.get(end) != 0) end++;
                    out.put(new String(b.array(), nameAt, end - nameAt, StandardCharsets.US_ASCII), (double) b.getLong(at + b.getInt(at + 16)));
                }
                at += length;
            }
            return out;
        }

        /** Runs one diagnostic command (as `jcmd PID COMMAND` would) and returns its output. */
        static String execute(long pid, String command) throws IOException {
            Path socket = Path.of("/proc/" + pid + "/root/tmp/.java_pid" + pid);
            if (!Files.exists(socket)) startAttachListener(pid, socket);
            try (var ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                ch.connect(UnixDomainSocketAddress.of(socket));
                // Protocol 1: version, "jcmd", the command line, two empty arguments; each ends with a zero byte.
                var request = ("1\0jcmd\0" + command + "\0\0\0").getBytes(StandardCharsets.UTF_8);
                ch.write(ByteBuffer.wrap(request));
                var out = new ByteArrayOutputStream();
                var buf = ByteBuffer.allocate(16384);
                while (ch.read(buf.clear()) > 0) out.write(buf.array(), 0, buf.position());
                String reply = out.toString(StandardCharsets.UTF_8);
                int nl = reply.indexOf('\n');
                if (nl < 0 || !reply.substring(0, nl).strip().equals("0")) throw new IOException(command + " failed: " + reply.strip());
                return reply.substring(nl + 1);
            }
        }

        /** The JVM starts its attach listener on SIGQUIT when it finds .attach_pidPID in its working folder or /tmp. */
        static void startAttachListener(long pid, Path socket) throws IOException {
            // In /tmp, where the JVM also looks (never in its working folder, the user's project), and deleted even
            // when Compare is stopped (Ctrl-C) while it waits.
            Path trigger = Path.of("/tmp/.attach_pid" + pid);
            try {
                Files.createFile(trigger);
                trigger.toFile().deleteOnExit();
            } catch (FileAlreadyExistsException e) {
                // another attach is on its way
            }
            try {
                Processes.run(List.of("kill", "-QUIT", String.valueOf(pid)));
                for (int waited = 0; !Files.exists(socket); waited += 20) {
                    if (waited > 10_000) throw new IOException("no attach socket from JVM " + pid + " after 10 s");
                    Thread.sleep(20);   // the JVM creates the socket on its own thread; nothing to wait on but the file
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted");
            } finally {
                Files.deleteIfExists(trigger);
            }
        }
    }
}
