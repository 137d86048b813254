package tui

import (
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// action is what a key press asks for. Views turn keys into actions with
// their binding table (listBindings, detailBindings) and act on the action,
// so the help shows exactly the keys that work.
type action int

const (
	actNone action = iota
	actUp
	actDown
	actPageUp
	actPageDown
	actTop
	actBottom
	actOpen
	actBack
	actPrevTab
	actNextTab
	actTab1
	actTab2
	actTab3
	actTab4
	actTab5
	actSwitch
	actSearch
	actStatusFilter
	actKindFilter
	actSort
	actReverse
	actRefresh
	actStart
	actCancel
	actSignal
	actResolve
	actReject
	actHelp
	actQuit
)

// KeyMap holds every key binding of the TUI.
type KeyMap struct {
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
	Open, Back                              key.Binding
	PrevTab, NextTab                        key.Binding
	Tab1, Tab2, Tab3, Tab4, Tab5            key.Binding
	SwitchList                              key.Binding
	Search, StatusFilter, KindFilter        key.Binding
	Sort, Reverse, Refresh                  key.Binding
	Start, Cancel, Signal, Resolve, Reject  key.Binding
	Help, Quit, ForceQuit                   key.Binding

	// In dialogs and text prompts.
	NextField, PrevField, Submit, Close, Confirm, Deny key.Binding
}

// DefaultKeyMap has vim keys and arrows for moving.
func DefaultKeyMap() KeyMap {
	b := func(keys []string, help, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return KeyMap{
		Up:           b([]string{"k", "up"}, "k/↑", "up"),
		Down:         b([]string{"j", "down"}, "j/↓", "down"),
		PageUp:       b([]string{"ctrl+u", "pgup", "ctrl+b"}, "ctrl+u/pgup", "page up"),
		PageDown:     b([]string{"ctrl+d", "pgdown", "ctrl+f", " "}, "ctrl+d/pgdn", "page down"),
		Top:          b([]string{"g", "home"}, "g/home", "top"),
		Bottom:       b([]string{"G", "end"}, "G/end", "bottom"),
		Open:         b([]string{"enter", "l", "right"}, "enter/l", "open"),
		Back:         b([]string{"esc", "backspace"}, "esc", "back"),
		PrevTab:      b([]string{"h", "left", "shift+tab"}, "h/←", "previous tab"),
		NextTab:      b([]string{"l", "right", "tab"}, "l/→/tab", "next tab"),
		Tab1:         b([]string{"1"}, "1", "overview"),
		Tab2:         b([]string{"2"}, "2", "events"),
		Tab3:         b([]string{"3"}, "3", "tasks"),
		Tab4:         b([]string{"4"}, "4", "timeline"),
		Tab5:         b([]string{"5"}, "5", "timeline"),
		SwitchList:   b([]string{"a", "tab"}, "a/tab", "agents"),
		Search:       b([]string{"/"}, "/", "search"),
		StatusFilter: b([]string{"f"}, "f", "status filter"),
		KindFilter:   b([]string{"K"}, "K", "kind filter"),
		Sort:         b([]string{"s"}, "s", "sort"),
		Reverse:      b([]string{"R"}, "R", "reverse sort"),
		Refresh:      b([]string{"r"}, "r", "refresh"),
		Start:        b([]string{"n"}, "n", "start workflow"),
		Cancel:       b([]string{"c"}, "c", "cancel"),
		Signal:       b([]string{"S"}, "S", "signal"),
		Resolve:      b([]string{"p"}, "p", "resolve promise"),
		Reject:       b([]string{"P"}, "P", "reject promise"),
		Help:         b([]string{"?"}, "?", "help"),
		Quit:         b([]string{"q"}, "q", "quit"),
		ForceQuit:    b([]string{"ctrl+c"}, "ctrl+c", "quit"),

		NextField: b([]string{"tab", "down"}, "tab/↓", "next field"),
		PrevField: b([]string{"shift+tab", "up"}, "shift+tab/↑", "previous field"),
		Submit:    b([]string{"enter"}, "enter", "next / submit"),
		Close:     b([]string{"esc"}, "esc", "close"),
		Confirm:   b([]string{"y", "Y", "enter"}, "y", "confirm"),
		Deny:      b([]string{"n", "N", "esc"}, "n/esc", "go back"),
	}
}

// binding ties a key binding to the action it triggers in one view.
type binding struct {
	key key.Binding
	act action
}

// lookup finds the action of a key press in a view's table; the first
// matching entry wins.
func lookup(msg tea.KeyMsg, table []binding) action {
	for _, b := range table {
		if key.Matches(msg, b.key) {
			return b.act
		}
	}
	return actNone
}

// listBindings are the keys of the list view, in help order.
func (k KeyMap) listBindings() []binding {
	return []binding{
		{k.Up, actUp}, {k.Down, actDown}, {k.PageUp, actPageUp}, {k.PageDown, actPageDown},
		{k.Top, actTop}, {k.Bottom, actBottom}, {k.Open, actOpen},
		{k.Search, actSearch}, {k.StatusFilter, actStatusFilter}, {k.KindFilter, actKindFilter},
		{k.Sort, actSort}, {k.Reverse, actReverse}, {k.Refresh, actRefresh}, {clearFilters(k.Back), actBack},
		{k.SwitchList, actSwitch},
		{k.Start, actStart}, {k.Cancel, actCancel}, {k.Signal, actSignal},
		{k.Help, actHelp}, {k.Quit, actQuit},
	}
}

// agentListBindings are the keys of the agent list: the list's, where n
// starts an agent and a/tab goes back to the executions.
func (k KeyMap) agentListBindings() []binding {
	table := k.listBindings()
	for i, b := range table {
		switch b.act {
		case actSwitch:
			table[i].key = withHelp(b.key, b.key.Help().Key, "executions")
		case actStart:
			table[i].key = withHelp(b.key, b.key.Help().Key, "start agent")
		}
	}
	return table
}

// detailBindings are the keys of the detail view, in help order.
func (k KeyMap) detailBindings() []binding {
	return []binding{
		{k.Up, actUp}, {k.Down, actDown}, {k.PageUp, actPageUp}, {k.PageDown, actPageDown},
		{k.Top, actTop}, {k.Bottom, actBottom},
		{k.PrevTab, actPrevTab}, {k.NextTab, actNextTab},
		{k.Tab1, actTab1}, {k.Tab2, actTab2}, {k.Tab3, actTab3}, {k.Tab4, actTab4},
		{k.Back, actBack}, {k.Refresh, actRefresh},
		{k.Start, actStart}, {k.Cancel, actCancel}, {k.Signal, actSignal},
		{k.Resolve, actResolve}, {k.Reject, actReject},
		{k.Help, actHelp}, {k.Quit, actQuit},
	}
}

// agentDetailBindings are the keys of an agent execution's detail view, in
// help order.
func (k KeyMap) agentDetailBindings() []binding {
	return []binding{
		{k.Up, actUp}, {k.Down, actDown}, {k.PageUp, actPageUp}, {k.PageDown, actPageDown},
		{k.Top, actTop}, {k.Bottom, actBottom},
		{k.PrevTab, actPrevTab}, {k.NextTab, actNextTab},
		{k.Tab1, actTab1}, {withHelp(k.Tab2, "2", "conversation"), actTab2}, {withHelp(k.Tab3, "3", "checkpoints"), actTab3},
		{withHelp(k.Tab4, "4", "tasks"), actTab4}, {k.Tab5, actTab5},
		{k.Back, actBack}, {k.Refresh, actRefresh},
		{withHelp(k.Start, "n", "start agent"), actStart}, {k.Cancel, actCancel}, {k.Signal, actSignal},
		{k.Help, actHelp}, {k.Quit, actQuit},
	}
}

// clearFilters relabels Back for the list, where esc clears the search and
// filters.
func clearFilters(b key.Binding) key.Binding {
	b.SetHelp("esc", "clear search/filters")
	return b
}

// helpGroups splits a view's bindings into titled groups for the help
// overlay: moving, the view's own keys, actions, and the app.
func helpGroups(table []binding) []helpGroup {
	groups := []helpGroup{{title: "Move"}, {title: "View"}, {title: "Act"}, {title: "App"}}
	for _, b := range table {
		i := 1
		switch b.act {
		case actUp, actDown, actPageUp, actPageDown, actTop, actBottom:
			i = 0
		case actStart, actCancel, actSignal, actResolve, actReject:
			i = 2
		case actHelp, actQuit:
			i = 3
		}
		groups[i].keys = append(groups[i].keys, b.key)
	}
	return groups
}

type helpGroup struct {
	title string
	keys  []key.Binding
}

// shortHelp is the footer's selection of a view's keys.
func shortHelp(table []binding, acts ...action) []key.Binding {
	var out []key.Binding
	for _, a := range acts {
		for _, b := range table {
			if b.act == a {
				out = append(out, b.key)
				break
			}
		}
	}
	return out
}
