//DEPS org.seleniumhq.selenium:selenium-java:4.52.0

// A real browser for tests (pulled in with `//SOURCES Browser.java`): Debian's headless Chromium driven through the
// system chromedriver by Selenium's Java bindings. Nothing is downloaded: the driver and the browser binary are given
// by path, so Selenium Manager is never asked. One Browser serves a whole test script (start it in @BeforeAll, close
// it in @AfterAll), because starting Chromium costs about a second.
// - open(url) loads a page and returns the console errors it logged;
// - screenshot(name) writes a PNG to screenshotDir() and fails if the picture is blank (one colour).

import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.WebDriverWait;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.logging.Level;

public final class Browser implements AutoCloseable {
    /** Debian's packages `chromium` and `chromium-driver` put them here (.ci/run installs them). */
    static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    /** How long a page may take to show what a test waits for before the test fails. */
    static final Duration WAIT = Duration.ofSeconds(20);

    public final ChromeDriver driver;
    private final Path profile;

    private Browser(ChromeDriver driver, Path profile) { this.driver = driver; this.profile = profile; }

    /** Starts headless Chromium, or fails with what to install when it is not there (never a silent skip). */
    public static Browser start() throws IOException {
        for (var p : List.of(CHROMIUM, CHROMEDRIVER)) {
            if (!Files.isExecutable(p))
                throw new AssertionError("no " + p + ": the browser tests need Debian's chromium and chromium-driver "
                        + "(apt-get install chromium chromium-driver; .ci/run installs them)");
        }
        System.setProperty("webdriver.chrome.driver", CHROMEDRIVER.toString());
        System.setProperty("webdriver.chrome.silentOutput", "true");
        Path profile = Files.createTempDirectory("chromium-profile-");
        var options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1200,900", "--user-data-dir=" + profile);
        var logs = new LoggingPreferences();
        logs.enable(LogType.BROWSER, Level.ALL);
        options.setCapability("goog:loggingPrefs", logs);
        var service = new ChromeDriverService.Builder()
                .usingDriverExecutable(CHROMEDRIVER.toFile())
                .usingAnyFreePort()
                .withLogOutput(java.io.OutputStream.nullOutputStream())
                .build();
        try {
            return new Browser(new ChromeDriver(service, options), profile);
        } catch (RuntimeException e) {
            deleteTree(profile);
            throw e;
        }
    }

    /** Loads the page and returns the console errors (level SEVERE) logged while it loaded. */
    public List<String> open(String url) {
        consoleErrors();   // forget what earlier pages logged
        driver.get(url);
        return consoleErrors();
    }

    /** Console errors logged since the last call (the browser hands each entry out once). */
    public List<String> consoleErrors() {
        return driver.manage().logs().get(LogType.BROWSER).getAll().stream()
                .filter(e -> e.getLevel().intValue() >= Level.SEVERE.intValue())
                .map(LogEntry::getMessage).toList();
    }

    /** Waits (up to WAIT) until the condition holds; a failure says what it was waiting for. */
    public <T> T await(String what, Function<WebDriver, T> condition) {
        return new WebDriverWait(driver, WAIT).withMessage(what).until(condition);
    }

    public WebElement find(String css) { return driver.findElement(By.cssSelector(css)); }

    public List<WebElement> findAll(String css) { return driver.findElements(By.cssSelector(css)); }

    public Object js(String script, Object... args) { return ((JavascriptExecutor) driver).executeScript(script, args); }

    /**
     * A screenshot of the whole page, written to screenshotDir()/NAME.png; fails if it is blank (fewer than
     * three colours: a page that rendered nothing).
     */
    public Path screenshot(String name) throws IOException {
        // Chrome DevTools' capture with captureBeyondViewport takes the whole page, not only what the window shows.
        @SuppressWarnings("unchecked")
        var size = (Map<String, Object>) driver.executeCdpCommand("Page.getLayoutMetrics", Map.of()).get("cssContentSize");
        double width = ((Number) size.get("width")).doubleValue(), height = Math.min(16_000, ((Number) size.get("height")).doubleValue());
        var shot = driver.executeCdpCommand("Page.captureScreenshot", Map.of("format", "png", "captureBeyondViewport", true,
                "clip", Map.of("x", 0, "y", 0, "width", width, "height", height, "scale", 1)));
        byte[] png = Base64.getDecoder().decode((String) shot.get("data"));
        Path file = screenshotDir().resolve(name.replaceAll("[^A-Za-z0-9._-]", "_") + ".png");
        Files.write(file, png);
        int colours = colours(png);
        if (colours < 3) throw new AssertionError("blank screenshot (" + colours + " colour(s)): " + file);
        return file;
    }

    /** The number of distinct colours in a PNG (up to 1000: enough to tell a page from a blank one). */
    static int colours(byte[] png) throws IOException {
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(png));
        var seen = new HashSet<Integer>();
        for (int y = 0; y < img.getHeight(); y += 2)
            for (int x = 0; x < img.getWidth(); x += 2)
                if (seen.add(img.getRGB(x, y)) && seen.size() >= 1000) return seen.size();
        return seen.size();
    }

    /** Where screenshots go: $SCREENSHOT_DIR, or target/screenshots under the project root. Created on first use. */
    public static Path screenshotDir() throws IOException {
        String env = System.getenv("SCREENSHOT_DIR");
        Path dir = env != null && !env.isBlank() ? Path.of(env) : TestKit.projectRoot().resolve("target/screenshots");
        return Files.createDirectories(dir).toAbsolutePath();
    }

    @Override public void close() {
        try {
            driver.quit();   // also stops chromedriver
        } finally {
            deleteTree(profile);
        }
    }

    private static void deleteTree(Path root) {
        try (var walk = Files.walk(root)) {
            walk.sorted(java.util.Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
        } catch (IOException ignored) {
            // a temporary profile left behind is harmless; the test result is what matters
        }
    }
}
