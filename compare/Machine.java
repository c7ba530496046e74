// The machine a figure was measured on, as footers and JSON name it: date, cores, memory, kernel, load average, JDK.

import com.sun.management.OperatingSystemMXBean;

import java.io.*;
import java.lang.management.ManagementFactory;
import java.nio.file.*;
import java.time.Instant;
import java.util.*;

/** The machine as the footer names it: cores, memory, kernel, load average, JDK. */
record Machine(Instant at, int cores, long memoryMb, String kernel, String loadAverage, String jdk) {
    static Machine now() {
        long memMb = 0;
        try {
            for (String l : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (l.startsWith("MemTotal:")) memMb = Long.parseLong(l.replaceAll("\\D", "")) / 1024;
            }
        } catch (IOException | RuntimeException e) {
            memMb = ((OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getTotalMemorySize() >> 20;
        }
        String load;
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
            load = f[0] + " " + f[1] + " " + f[2];
        } catch (IOException | RuntimeException e) {
            load = String.format(Locale.ROOT, "%.2f", ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
        }
        return new Machine(Instant.now(), Runtime.getRuntime().availableProcessors(), memMb,
                System.getProperty("os.name") + " " + System.getProperty("os.version"), load,
                System.getProperty("java.vm.vendor") + " " + System.getProperty("java.runtime.version"));
    }
}
