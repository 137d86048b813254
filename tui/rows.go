package tui

import (
	"time"

	"github.com/flovyn/flovyn/client"
)

// The list keeps a prefix of the tenant's executions in the server's order
// (newest first: created_at descending, then id ascending) and refreshes
// only the parts of it that matter: the first page, where new executions
// appear, and the rows in view. It never reloads the whole prefix.
//
// Every page the server returns is the truth for a range of that order:
// from just after the row its cursor resumes from (or the top) to its last
// row (or the bottom, on the last page). merge replaces that range of the
// prefix with the page and keeps the rest, so a refresh of rows 5,000–5,030
// costs one request of 30 rows however far the user scrolled.

// rowKey is an execution's place in the server's order.
type rowKey struct {
	at time.Time
	id string
}

func keyOf(e client.Execution) rowKey { return rowKey{e.CreatedAt, e.ID} }

// compare orders keys as the server lists them: -1 when a comes first.
func (a rowKey) compare(b rowKey) int {
	switch {
	case a.at.After(b.at):
		return -1
	case a.at.Before(b.at):
		return 1
	case a.id < b.id:
		return -1
	case a.id > b.id:
		return 1
	}
	return 0
}

// pageRequest is one ListWorkflows call of the list.
type pageRequest struct {
	after  *rowKey // the page starts just after this row; nil: at the top
	cursor string  // the server's cursor for after
	limit  int
}

// rowStore is the loaded prefix of the list.
type rowStore struct {
	rows []client.Execution
	// cursors maps a row id to the cursor that resumes after it, for the
	// rows that ended a page: the anchors a refresh of the rows below starts from.
	cursors map[string]string
	next    string // cursor of the page after the prefix
	done    bool   // the prefix is the whole list
	loaded  bool   // a first page arrived
}

func newRowStore() rowStore { return rowStore{cursors: map[string]string{}} }

// merge puts a page the server returned for req into the prefix.
func (s *rowStore) merge(req pageRequest, page client.ExecutionList) {
	s.loaded = true
	// Defensive: keep only rows in order after req.after, each once.
	fresh := make([]client.Execution, 0, len(page.Items))
	var last *rowKey
	for _, e := range page.Items {
		k := keyOf(e)
		if (req.after != nil && k.compare(*req.after) <= 0) || (last != nil && k.compare(*last) <= 0) {
			continue
		}
		fresh = append(fresh, e)
		last = &k
	}
	more := page.NextCursor != nil && *page.NextCursor != ""
	if more && len(fresh) == 0 {
		return // a page that says nothing about any range
	}

	// prefix: the rows up to and including req.after.
	i := 0
	for req.after != nil && i < len(s.rows) && keyOf(s.rows[i]).compare(*req.after) <= 0 {
		i++
	}
	out := make([]client.Execution, 0, i+len(fresh)+len(s.rows)-i)
	out = append(out, s.rows[:i]...)
	out = append(out, fresh...)

	if !more {
		s.rows, s.next, s.done = out, "", true
		return
	}
	s.cursors[fresh[len(fresh)-1].ID] = *page.NextCursor
	// The rows after the page stay only if the page reached them: the old
	// prefix was one unbroken range, so a page that ends inside it joins it.
	// A page that ends above it (more new executions than one page) leaves
	// a gap, and the rows below are dropped, to be loaded again on scroll.
	tail := s.rows[i:]
	j := 0
	if len(tail) > 0 && last.compare(keyOf(tail[0])) >= 0 {
		for j < len(tail) && keyOf(tail[j]).compare(*last) <= 0 {
			j++
		}
		out = append(out, tail[j:]...)
		if j < len(tail) {
			s.rows = out
			return // next and done describe the kept tail
		}
	}
	s.rows, s.next, s.done = out, *page.NextCursor, false
}

// moreRequest is the request for the page after the prefix; ok is false
// when the whole list is loaded.
func (s *rowStore) moreRequest(limit int) (pageRequest, bool) {
	if !s.loaded {
		return pageRequest{limit: limit}, true
	}
	if s.done || s.next == "" || len(s.rows) == 0 {
		return pageRequest{}, false
	}
	k := keyOf(s.rows[len(s.rows)-1])
	return pageRequest{after: &k, cursor: s.next, limit: limit}, true
}

// windowRequest is the request that refreshes rows lo..hi (indexes into
// rows): it starts from the nearest anchor above lo and must stay within
// maxLimit rows. ok is false when no anchor is close enough.
func (s *rowStore) windowRequest(lo, hi, maxLimit int) (pageRequest, bool) {
	if hi >= len(s.rows) {
		hi = len(s.rows) - 1
	}
	if lo < 0 || lo > hi {
		return pageRequest{}, false
	}
	for j := lo - 1; j >= 0 && hi-j <= maxLimit; j-- {
		if c, ok := s.cursors[s.rows[j].ID]; ok {
			k := keyOf(s.rows[j])
			return pageRequest{after: &k, cursor: c, limit: hi - j}, true
		}
	}
	if hi+1 <= maxLimit {
		return pageRequest{limit: hi + 1}, true
	}
	return pageRequest{}, false
}

// index finds a row by id.
func (s *rowStore) index(id string) int {
	for i := range s.rows {
		if s.rows[i].ID == id {
			return i
		}
	}
	return -1
}
