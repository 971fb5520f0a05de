/* A small, fast HTTP/1.1 backend for vramd's benchmarks: it answers a fixed chat completion
 * (JSON) or a fixed SSE stream ("stream": true in the body) and GET /health, with keep-alive,
 * one thread per connection. It exists so that what the benchmarks measure is the proxy.
 *
 * Usage: fast-backend PORT
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *completion =
    "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\",\"created\":0,\"model\":\"bench\","
    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello from the benchmark backend.\"},"
    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":6,\"total_tokens\":11}}";

static int write_all(int fd, const char *data, size_t length) {
    while (length > 0) {
        ssize_t n = write(fd, data, length);
        if (n <= 0) return -1;
        data += n;
        length -= (size_t)n;
    }
    return 0;
}

static int respond(int fd, int stream, int health) {
    char buffer[4096];
    if (health) {
        const char *r = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"ok\"}";
        return write_all(fd, r, strlen(r));
    }
    if (!stream) {
        int n = snprintf(buffer, sizeof buffer,
                         "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                         strlen(completion), completion);
        return write_all(fd, buffer, (size_t)n);
    }
    const char *head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
    if (write_all(fd, head, strlen(head))) return -1;
    const char *words[] = {"Hello", " from", " the", " benchmark", " backend."};
    for (int i = 0; i < 6; i++) {
        char event[512];
        int e = i < 5 ? snprintf(event, sizeof event,
                                 "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%s\"}}]}\n\n",
                                 words[i])
                      : snprintf(event, sizeof event, "data: [DONE]\n\n");
        int n = snprintf(buffer, sizeof buffer, "%x\r\n%s\r\n", e, event);
        if (write_all(fd, buffer, (size_t)n)) return -1;
    }
    return write_all(fd, "0\r\n\r\n", 5);
}

static void *serve(void *arg) {
    int fd = (int)(long)arg;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char buffer[65536];
    size_t filled = 0;
    for (;;) {
        char *end = NULL;
        while (!(end = memmem(buffer, filled, "\r\n\r\n", 4))) {
            if (filled == sizeof buffer) goto done;
            ssize_t n = read(fd, buffer + filled, sizeof buffer - filled);
            if (n <= 0) goto done;
            filled += (size_t)n;
        }
        size_t header_length = (size_t)(end - buffer) + 4;
        size_t content_length = 0;
        for (char *line = buffer; line < end; line = strstr(line, "\r\n") + 2) {
            if (strncasecmp(line, "Content-Length:", 15) == 0) content_length = strtoul(line + 15, NULL, 10);
        }
        if (header_length + content_length > sizeof buffer) goto done;
        while (filled < header_length + content_length) {
            ssize_t n = read(fd, buffer + filled, sizeof buffer - filled);
            if (n <= 0) goto done;
            filled += (size_t)n;
        }
        int health = strncmp(buffer, "GET /health", 11) == 0;
        int stream = memmem(buffer + header_length, content_length, "\"stream\":true", 13) != NULL ||
                     memmem(buffer + header_length, content_length, "\"stream\": true", 14) != NULL;
        if (respond(fd, stream, health)) goto done;
        size_t used = header_length + content_length;
        memmove(buffer, buffer + used, filled - used);
        filled -= used;
    }
done:
    close(fd);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: fast-backend PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1]))};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&address, sizeof address) || listen(listener, 1024)) {
        perror("fast-backend");
        return 1;
    }
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) continue;
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attributes, 256 * 1024);
        if (pthread_create(&thread, &attributes, serve, (void *)(long)fd)) close(fd);
    }
}
