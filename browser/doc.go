// Package browser is a test-only module: it drives the live tree view of
// package treeview in a real, headless Chromium with chromedp, against a
// real actor.System, and checks what a person would see. It has no API;
// nothing imports it.
//
// TestTreeView starts a supervision tree, serves treeview.Handler on a
// loopback httptest server, opens the page, kills a worker and fails
// another, and waits (on DOM mutations, bounded by the test's deadline)
// until the page, updated by its Server-Sent Events stream, shows each
// node restarting and then running again with its new restart count;
// it then clicks a failure ID in the recent events and checks which
// nodes are highlighted, and takes a full-page screenshot. Any error the
// page's script throws, and any Content-Security-Policy violation, fails
// the test.
//
// The test needs Chromium: it looks for $CHROME, then chromium on $PATH
// (Debian: apt-get install -y chromium). Without it the test fails,
// unless TROUPE_BROWSER=off, which skips it. Run it from this directory:
//
//	go test -race -count=1 ./...
//
// go test -run TestTreeView -update-screenshot rewrites
// docs/img/treeview.png, the screenshot in the repository's docs; a
// normal run writes the screenshot to a temporary directory and checks
// that it is a PNG of a reasonable size.
package browser
