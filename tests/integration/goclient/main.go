// SPDX-License-Identifier: MIT

// A client of the egress proxy tests (tests/integration/test_egress_proxy.py):
// Go's net/http as a function would use it, the proxy taken from the
// environment (http.ProxyFromEnvironment: HTTP_PROXY, HTTPS_PROXY, NO_PROXY)
// and TLS verified against the system roots (SSL_CERT_FILE, or the usual
// files under /etc/ssl). It fetches each URL of its arguments, or of its
// input's lines when it has none, and prints one line per URL:
//
//	URL status CODE FIRST-LINE-OF-BODY
//	URL error MESSAGE
package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

func fetch(c *http.Client, url string) string {
	r, err := c.Get(url)
	if err != nil {
		return fmt.Sprintf("%s error %v", url, err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		return fmt.Sprintf("%s error reading: %v", url, err)
	}
	return fmt.Sprintf("%s status %d %s", url, r.StatusCode, strings.SplitN(string(b), "\n", 2)[0])
}

func main() {
	urls := os.Args[1:]
	if len(urls) == 0 {
		s := bufio.NewScanner(os.Stdin)
		for s.Scan() {
			if u := strings.TrimSpace(s.Text()); u != "" {
				urls = append(urls, u)
			}
		}
	}
	// The default transport: ProxyFromEnvironment, as any Go program.
	c := &http.Client{Timeout: 10 * time.Second}
	for _, u := range urls {
		fmt.Println(fetch(c, u))
	}
}
