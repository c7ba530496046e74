// A server with a known cost per request, for tests/CountsTest.java: each request is 8 bytes, which it reads in two
// pieces of 4 (two read calls on a blocking socket), and each answer is 1 byte (one write call). One platform thread
// per connection. Run: java tests/TwoReadsServer.java   (prints its ready line; Ctrl-C stops it)

import java.io.DataInputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;

public class TwoReadsServer {
    public static void main(String[] args) throws IOException {
        var server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        System.out.println("Listening on tcp://127.0.0.1:" + server.getLocalPort() + " mode=thread");
        System.out.flush();
        while (true) {
            Socket s = server.accept();
            Thread.ofPlatform().start(() -> serve(s));
        }
    }

    static void serve(Socket s) {
        try (s; var in = new DataInputStream(s.getInputStream()); var out = s.getOutputStream()) {
            byte[] piece = new byte[4];
            byte[] answer = {'+'};
            while (true) {
                in.readFully(piece);   // read(fd, buf, 4): one system call, the request's first half
                in.readFully(piece);   // and its second half
                out.write(answer);     // write(fd, "+", 1)
            }
        } catch (IOException endOfConnection) {
            // the client closed
        }
    }
}
