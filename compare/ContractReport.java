// The contract's checks (compare/Contract.java) run against one side: an outcome per check, and the PASS/FAIL table
// of `./jbang Compare.java test`, one column per side.

import java.util.*;
import java.util.function.Consumer;

/** All outcomes of the contract's checks for one side. */
public record ContractReport(String side, List<ContractReport.Outcome> outcomes) {
    /** One result of a check against a side. */
    public record Outcome(String check, Verdict verdict, String detail) {
        public Outcome { detail = detail == null ? "" : detail; }  // an exception without a message
    }

    public enum Verdict { PASS, FAIL, SKIP }

    public boolean passed() { return outcomes.stream().noneMatch(o -> o.verdict == Verdict.FAIL); }

    public long count(Verdict v) { return outcomes.stream().filter(o -> o.verdict == v).count(); }

    /** Runs one check: PASS, FAIL with the reason, or SKIP with the reason. */
    public static Outcome run(Contract.Check c, Contract.Site site) {
        try {
            c.body().run(site);
            return new Outcome(c.name(), Verdict.PASS, "");
        } catch (Contract.Skip s) {
            return new Outcome(c.name(), Verdict.SKIP, s.getMessage());
        } catch (AssertionError | Exception e) {
            return new Outcome(c.name(), Verdict.FAIL, e instanceof AssertionError ? e.getMessage() : e.toString());
        }
    }

    /** Every check against one side, in the contract's order; `each` hears of each outcome as it comes. */
    public static ContractReport check(String side, Contract.Site site, Consumer<Outcome> each) {
        var out = new ArrayList<Outcome>();
        for (var c : Contract.CHECKS) {
            var o = run(c, site);
            out.add(o);
            if (each != null) each.accept(o);
        }
        return new ContractReport(side, out);
    }

    /** The PASS/FAIL table: one row per check, one column per side; `≠` marks a row where the sides differ. */
    public static String table(List<ContractReport> reports) {
        var header = new ArrayList<String>(List.of("check"));
        reports.forEach(r -> header.add(r.side));
        var t = new TextTable(header.toArray(String[]::new));
        for (int i = 0; i < Contract.CHECKS.size(); i++) {
            int row = i;
            var cells = new ArrayList<String>(List.of(Contract.CHECKS.get(i).what()));
            var verdicts = reports.stream().map(r -> r.outcomes.get(row).verdict).toList();
            verdicts.forEach(v -> cells.add(v.name()));
            t.row(reports.size() > 1 && new HashSet<>(verdicts).size() > 1 ? "≠" : null, cells);
        }
        var totals = new ArrayList<String>(List.of("passed"));
        reports.forEach(r -> totals.add(r.count(Verdict.PASS) + "/" + (r.outcomes.size() - r.count(Verdict.SKIP))));
        t.row(null, totals);
        var sb = new StringBuilder(t.toString());
        for (var r : reports) {
            for (var o : r.outcomes) {
                if (o.verdict != Verdict.PASS) sb.append(o.verdict).append(" ").append(r.side).append(": ").append(o.check).append(": ").append(oneLine(o.detail)).append('\n');
            }
        }
        return sb.toString();
    }

    static String oneLine(String s) {
        String l = s == null ? "" : s.replace("\r", "\\r").replace("\n", "\\n");
        return l.length() > 400 ? l.substring(0, 400) + "..." : l;
    }
}
