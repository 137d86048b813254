package cmd

import (
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/flovyn/flovyn/client"
)

// Ids given as arguments are checked before any request, so a malformed one
// is a usage error (exit 2) that names the argument. A workflow or agent
// execution id may be the unique prefix the TUI shows (8 hex digits): 4 to
// 32 hex digits, with or without dashes, resolved through the list route's
// idPrefix filter.

const (
	minIDPrefix = 4  // hex digits
	uuidDigits  = 32 // hex digits of a whole id
)

// idRef is an execution id as given: a whole UUID, or a prefix.
type idRef struct {
	noun   string // "workflow" or "agent"
	arg    string
	full   string // the canonical UUID, when the whole id was given
	prefix string // else the canonical prefix: lower case, dashes where a UUID has them
}

// parseIDRef checks an execution id argument of the noun's kind.
func parseIDRef(noun, arg string) (idRef, error) {
	r := idRef{noun: noun, arg: arg}
	if id, err := uuid.Parse(arg); err == nil {
		r.full = id.String()
		return r, nil
	}
	hex := strings.ToLower(strings.ReplaceAll(arg, "-", ""))
	if len(hex) < minIDPrefix || len(hex) > uuidDigits || len(arg) > 36 || strings.Trim(hex, "0123456789abcdef") != "" {
		return r, usageErrorf("%s id %q: not a UUID or an id prefix", noun, arg)
	}
	if len(hex) == uuidDigits { // every digit, dashes misplaced
		r.full = uuid.MustParse(hex).String()
		return r, nil
	}
	var b strings.Builder
	for i, c := range hex {
		if i == 8 || i == 12 || i == 16 || i == 20 {
			b.WriteByte('-')
		}
		b.WriteRune(c)
	}
	r.prefix = b.String()
	return r, nil
}

// idArgs checks the number of arguments and that the one at index is an
// execution id or prefix of the noun's kind.
func idArgs(noun string, n, index int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return err
		}
		_, err := parseIDRef(noun, args[index])
		return err
	}
}

// workflowIDArgs is idArgs for a workflow execution id.
func workflowIDArgs(n, index int) cobra.PositionalArgs { return idArgs("workflow", n, index) }

// workflowID resolves a workflow execution id argument (checked by
// workflowIDArgs) to a whole id. Every command that takes a workflow id
// goes through here.
func (s *session) workflowID(arg string) (string, error) {
	return s.resolveID("workflow", arg, func(prefix string) ([]string, bool, error) {
		page, err := s.c.ListWorkflows(s.ctx, client.ListWorkflowsOptions{IDPrefix: prefix, Limit: 2})
		ids := make([]string, 0, len(page.Items))
		for _, w := range page.Items {
			ids = append(ids, w.ID)
		}
		return ids, page.NextCursor != nil, err
	})
}

// agentID is workflowID for an agent execution id.
func (s *session) agentID(arg string) (string, error) {
	return s.resolveID("agent", arg, func(prefix string) ([]string, bool, error) {
		page, err := s.c.ListAgents(s.ctx, client.ListAgentsOptions{IDPrefix: prefix, Limit: 2})
		ids := make([]string, 0, len(page.Items))
		for _, a := range page.Items {
			ids = append(ids, a.ID)
		}
		return ids, page.NextCursor != nil, err
	})
}

// resolveID resolves an execution id argument to a whole id: a UUID as it
// is; a prefix by listing the executions whose id starts with it, which
// must be exactly one.
func (s *session) resolveID(noun, arg string, list func(prefix string) (ids []string, more bool, err error)) (string, error) {
	ref, err := parseIDRef(noun, arg)
	if err != nil {
		return "", err
	}
	if ref.full != "" {
		return ref.full, nil
	}
	ids, more, err := list(ref.prefix)
	if err != nil {
		return "", err
	}
	for _, id := range ids {
		if !strings.HasPrefix(id, ref.prefix) {
			// A server that predates idPrefix ignores it and lists everything.
			return "", fmt.Errorf("the server at %s cannot look up id prefixes: give the whole %s id", s.c.Server(), noun)
		}
	}
	switch len(ids) {
	case 0:
		return "", fmt.Errorf("no %s execution with id prefix %s in tenant %q", noun, arg, s.c.Tenant())
	case 1:
		return ids[0], nil
	}
	tail := ""
	if more {
		tail = ", …"
	}
	return "", fmt.Errorf("id prefix %s is ambiguous (matches %s%s)", arg, strings.Join(ids, ", "), tail)
}

// promiseRef is a promise id as given: the promiseId of PROMISE_CREATED
// (also "id:<uuid>"), or <workflow execution id or prefix>:<promise name>.
type promiseRef struct {
	id       string // a promiseId
	workflow idRef  // else the workflow …
	name     string // … and the promise's name
}

func parsePromiseRef(arg string) (promiseRef, error) {
	if rest, ok := strings.CutPrefix(arg, "id:"); ok {
		id, err := uuid.Parse(rest)
		if err != nil {
			return promiseRef{}, usageErrorf("promise id %q: not a UUID", arg)
		}
		return promiseRef{id: id.String()}, nil
	}
	if id, err := uuid.Parse(arg); err == nil {
		return promiseRef{id: id.String()}, nil
	}
	wf, name, ok := strings.Cut(arg, ":")
	if !ok {
		return promiseRef{}, usageErrorf("promise id %q: not a UUID or <workflow id>:<promise name>", arg)
	}
	if name == "" {
		return promiseRef{}, usageErrorf("promise id %q: no promise name after the colon", arg)
	}
	ref, err := parseIDRef("workflow", wf)
	if err != nil {
		return promiseRef{}, err
	}
	return promiseRef{workflow: ref, name: name}, nil
}

func promiseIDArgs(cmd *cobra.Command, args []string) error {
	if err := cobra.ExactArgs(1)(cmd, args); err != nil {
		return err
	}
	_, err := parsePromiseRef(args[0])
	return err
}

// promiseID resolves a promise id argument to what the API takes: the
// promiseId, or <whole workflow id>:<name>.
func (s *session) promiseID(arg string) (string, error) {
	ref, err := parsePromiseRef(arg)
	if err != nil || ref.id != "" {
		return ref.id, err
	}
	wf, err := s.workflowID(ref.workflow.arg)
	if err != nil {
		return "", err
	}
	return wf + ":" + ref.name, nil
}

// credentialIDArgs checks that the argument is a credential id: a whole UUID.
func credentialIDArgs(cmd *cobra.Command, args []string) error {
	if err := cobra.ExactArgs(1)(cmd, args); err != nil {
		return err
	}
	if _, err := uuid.Parse(args[0]); err != nil {
		return usageErrorf("token id %q: not a UUID (the ID column of \"flovyn token list\")", args[0])
	}
	return nil
}
