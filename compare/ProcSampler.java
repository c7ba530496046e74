// Reading a process tree from the outside through /proc (Linux): its CPU time, a /proc/PID/status field summed over
// the tree (resident memory, threads), and the JVM options on its java command line.

import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;

/** A process tree Compare started, read through /proc: CPU time, /proc/PID/status fields, the JVM options in effect. NaN or 0 where there is no /proc. */
final class ProcSampler {
    private ProcSampler() {}

    /** CPU time (user + system) of the process and all its descendants, in ms, from /proc/PID/stat. */
    static double cpuMs(Processes.Proc p) {
        if (p == null) return Double.NaN;
        long ticks = 0;
        for (var h : tree(p)) {
            try {
                String stat = Files.readString(Path.of("/proc/" + h.pid() + "/stat"));
                String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]);   // utime, stime (fields 14 and 15)
            } catch (IOException | RuntimeException gone) {
                // the process ended between listing and reading
            }
        }
        return ticks * 1000.0 / CLOCK_TICKS;
    }

    /** The sum of a /proc/PID/status field (kB, or a count such as Threads:) over the process tree. */
    static long procSum(Processes.Proc p, String field) {
        return Math.max(0, statusSum(tree(p.process.pid()).stream().map(ProcessHandle::pid).toList(), field));
    }

    /** The sum of a /proc/PID/status field over these processes; -1 when none could be read (they ended, or no /proc). */
    static long statusSum(List<Long> pids, String field) {
        long sum = 0;
        boolean any = false;
        for (long pid : pids) {
            try {
                for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                    if (l.startsWith(field)) sum += Long.parseLong(l.substring(field.length()).strip().split("\\s+")[0]);
                }
                any = true;
            } catch (IOException | RuntimeException gone) {
                // the process ended between listing and reading
            }
        }
        return any ? sum : -1;
    }

    static List<ProcessHandle> tree(Processes.Proc p) { return tree(p.process.pid()); }

    /** The process and everything it started (listing them scans all of /proc: not something to do every few ms). */
    static List<ProcessHandle> tree(long pid) {
        var all = new ArrayList<ProcessHandle>();
        ProcessHandle.of(pid).ifPresent(h -> {
            all.add(h);
            h.descendants().forEach(all::add);
        });
        return all;
    }

    /**
     * The JVM options a server really runs with: those on the command line of the first java process in its tree
     * (read from /proc/PID/cmdline, where the last of two contradicting options is the one that counts); empty
     * for a side without a JVM Compare started.
     */
    static List<String> jvmOptions(Processes.Proc p) {
        if (p == null) return List.of();
        for (var h : tree(p)) {
            try {
                var argv = List.of(new String(Files.readAllBytes(Path.of("/proc/" + h.pid() + "/cmdline")), StandardCharsets.UTF_8).split("\0"));
                if (!argv.isEmpty() && (argv.getFirst().equals("java") || argv.getFirst().endsWith("/java"))) return jvmOptions(argv);
            } catch (IOException | RuntimeException gone) {
                // the process ended between listing and reading
            }
        }
        return List.of();
    }

    /**
     * The options that count: of options that set the same thing (-Xmx…, -XX:[+-]Name, -XX:Name=…, -Dname=…) only
     * the last, which the JVM applies, in its place.
     */
    static List<String> effective(List<String> options) {
        var last = new LinkedHashMap<String, String>();
        for (String o : options) {
            String key = o.startsWith("-XX:") ? o.substring(4).replaceFirst("^[+-]", "").replaceFirst("=.*", "")
                    : o.matches("-X(mx|ms|ss|mn).*") ? o.substring(0, 4)
                    : o.startsWith("-D") ? o.replaceFirst("=.*", "") : o;
            last.remove(key);
            last.put(key, o);
        }
        return List.copyOf(last.values());
    }

    /** The options of a java command line: the words after `java` up to the class path, -jar or the main class. */
    static List<String> jvmOptions(List<String> argv) {
        var options = new ArrayList<String>();
        for (String w : argv.subList(1, argv.size())) {
            if (!w.startsWith("-") || List.of("-classpath", "-cp", "--class-path", "-jar", "-m", "--module").contains(w)) break;
            options.add(w);
        }
        return options;
    }

    /** USER_HZ: 100 on every Linux this runs on (the kernel's ABI, independent of CONFIG_HZ). */
    static final double CLOCK_TICKS = 100;
}
