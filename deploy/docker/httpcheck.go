// httpcheck: GET one URL and exit 0 on a 2xx answer, 1 otherwise.
//
// The runtime image has no shell and no curl, yet the compose health check
// of the gateway must ask its admin listener for /readyz; this is the
// smallest client that can (the Go standard library only, built static).
// Kubernetes needs none of it: its httpGet probes ask the same path.
package main

import (
	"fmt"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: httpcheck http://host:port/path")
		os.Exit(2)
	}
	client := http.Client{Timeout: 3 * time.Second}
	response, err := client.Get(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	response.Body.Close()
	if response.StatusCode < 200 || response.StatusCode > 299 {
		fmt.Fprintln(os.Stderr, os.Args[1], "answered", response.Status)
		os.Exit(1)
	}
}
