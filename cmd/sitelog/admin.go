package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	// The time zone database, compiled in: a site's time zone is accepted,
	// and means the same, on every host, whether or not it has zoneinfo
	// files (minimal containers do not).
	_ "time/tzdata"

	"sitelog/rollup"
	"sitelog/rollup/pgstore"
	"sitelog/sites"
)

const sitesUsage = `usage: sitelog sites <command> [flags]

  sitelog sites add ID [--hostnames a.com,www.a.com] [--tz Europe/Berlin]
        register a site; for a registered one, replace what the flags give
  sitelog sites list [--json]
  sitelog sites remove ID

The registry says which sites exist, which hosts a browser may send their
events from (with --strict-sites), and each site's time zone. Changes reach
a running server within a second. Every command takes --data-dir
[SITELOG_DATA_DIR, default ./data], or --db [SITELOG_DB] for the registry
that the nodes and report processes of a PostgreSQL store share.
`

const keysUsage = `usage: sitelog keys <command> [flags]

  sitelog keys create --site ID [--label L]   a key that reads one site's reports
  sitelog keys create --admin [--label L]     a key that reads every site and may use the admin API
  sitelog keys list [--json]
  sitelog keys revoke KEY-ID

create prints the key's token once; only its SHA-256 is stored. Once any key
exists, reports need "Authorization: Bearer <token>". Changes reach a running
server within a second. Every command takes --data-dir [SITELOG_DATA_DIR,
default ./data], or --db [SITELOG_DB] for the keys that the report
processes of a PostgreSQL store share.
`

// adminCmd is one sites, keys or goals command: its flags, output and
// database.
type adminCmd struct {
	name    string // "sites add", for messages
	fs      *flag.FlagSet
	dataDir string
	// db is the PostgreSQL store's URL, whose registry the command
	// changes instead of the data directory's.
	db             string
	stdout, stderr io.Writer
}

func newAdminCmd(name, usage string, getenv func(string) string, stdout, stderr io.Writer) *adminCmd {
	c := &adminCmd{name: name, fs: flag.NewFlagSet("sitelog "+name, flag.ContinueOnError), stdout: stdout, stderr: stderr}
	c.fs.SetOutput(stderr)
	c.fs.Usage = func() {
		fmt.Fprint(stderr, usage+"\nflags of "+name+":\n")
		c.fs.PrintDefaults()
	}
	dataDirFlag(c.fs, getenv, &c.dataDir, "directory holding sitelog.db")
	c.fs.StringVar(&c.db, "db", getenv("SITELOG_DB"), "PostgreSQL URL (postgres://user:pass@host/db) of the store whose shared registry to change instead of --data-dir's [SITELOG_DB]")
	return c
}

// dataDirFlag defines --data-dir on fs, defaulting to SITELOG_DATA_DIR or
// ./data, as every command that works on a data directory takes it.
func dataDirFlag(fs *flag.FlagSet, getenv func(string) string, p *string, usage string) {
	def := getenv("SITELOG_DATA_DIR")
	if def == "" {
		def = "./data"
	}
	fs.StringVar(p, "data-dir", def, usage+" [SITELOG_DATA_DIR]")
}

// parse parses args, which may put flags after positional arguments
// ("sites add ID --tz UTC"), and returns the positional ones, of which it
// requires exactly want. The code is that of run: 0 for help, 2 for a
// mistake; ok is false when the command must end with it.
func (c *adminCmd) parse(args []string, want int, what string) (pos []string, code int, ok bool) {
	for {
		if err := c.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, 0, false
			}
			return nil, 2, false
		}
		if c.fs.NArg() == 0 {
			break
		}
		pos = append(pos, c.fs.Arg(0))
		args = c.fs.Args()[1:]
	}
	if len(pos) != want {
		if want == 0 {
			fmt.Fprintf(c.stderr, "sitelog %s: unexpected arguments %q\n", c.name, pos)
		} else {
			fmt.Fprintf(c.stderr, "sitelog %s: give %s\n", c.name, what)
		}
		return nil, 2, false
	}
	if err := checkDB(c.db); err != nil {
		fmt.Fprintf(c.stderr, "sitelog %s: %v\n", c.name, err)
		return nil, 2, false
	}
	return pos, 0, true
}

// open opens the registry's database for writing beside servers that may
// be running on it: the data directory's, or with --db PostgreSQL's.
func (c *adminCmd) open(ctx context.Context) (*sites.Store, *sql.DB, error) {
	if c.db == "" {
		db, err := rollup.OpenAdmin(filepath.Join(c.dataDir, "sitelog.db"))
		if err != nil {
			return nil, nil, err
		}
		return sites.NewStore(db, sites.StoreOptions{}), db, nil
	}
	db, err := pgstore.OpenAdmin(ctx, c.db)
	if err != nil {
		return nil, nil, err
	}
	return sites.NewStore(db, sites.StoreOptions{Dialect: sites.PostgreSQL}), db, nil
}

// failed reports err and returns the exit code: 2 for a value the user
// must fix, 1 otherwise.
func (c *adminCmd) failed(err error) int {
	fmt.Fprintf(c.stderr, "sitelog %s: %v\n", c.name, err)
	var ie *sites.InvalidError
	if errors.As(err, &ie) {
		return 2
	}
	return 1
}

// adminSub is one subcommand of sites or keys.
type adminSub func(ctx context.Context, c *adminCmd, args []string) int

// runAdmin dispatches `sitelog NAME SUB ...` to subs[SUB], or prints usage.
func runAdmin(ctx context.Context, name, usage string, subs map[string]adminSub, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	sub, ok := subs[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "sitelog %s: unknown command %q\n\n%s", name, args[0], usage)
		return 2
	}
	return sub(ctx, newAdminCmd(name+" "+args[0], usage, getenv, stdout, stderr), args[1:])
}

// runSites is the sites command.
func runSites(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return runAdmin(ctx, "sites", sitesUsage, map[string]adminSub{
		"add": sitesAdd, "list": sitesList, "remove": sitesRemove,
	}, args, getenv, stdout, stderr)
}

func sitesAdd(ctx context.Context, c *adminCmd, args []string) int {
	var hostnames, zone string
	c.fs.StringVar(&hostnames, "hostnames", "", "comma-separated hosts the site's pages are served from (example.com,*.example.com); the host of a browser's Origin must be one of them")
	c.fs.StringVar(&zone, "tz", "", "IANA time zone of the site, such as Europe/Berlin (default UTC)")
	pos, code, ok := c.parse(args, 1, "one site ID")
	if !ok {
		return code
	}
	given := map[string]bool{}
	c.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	store, db, err := c.open(ctx)
	if err != nil {
		return c.failed(err)
	}
	defer db.Close()

	// For a registered site, what the flags do not give stays as it is.
	hosts := splitList(hostnames)
	snap, err := store.Snapshot(ctx)
	if err != nil {
		return c.failed(err)
	}
	if old, ok := snap.Site(pos[0]); ok {
		if !given["hostnames"] {
			hosts = old.Hostnames
		}
		if !given["tz"] {
			zone = old.TimeZone
		}
	}
	site, created, err := store.PutSite(ctx, pos[0], hosts, zone)
	if err != nil {
		return c.failed(err)
	}
	verb := "updated"
	if created {
		verb = "added"
	}
	fmt.Fprintf(c.stdout, "%s site %s: hostnames %s, time zone %s\n", verb, site.ID, hostList(site.Hostnames), site.TimeZone)
	return 0
}

func sitesList(ctx context.Context, c *adminCmd, args []string) int {
	var asJSON bool
	c.fs.BoolVar(&asJSON, "json", false, "print a JSON array")
	if _, code, ok := c.parse(args, 0, ""); !ok {
		return code
	}
	store, db, err := c.open(ctx)
	if err != nil {
		return c.failed(err)
	}
	defer db.Close()
	snap, err := store.Snapshot(ctx)
	if err != nil {
		return c.failed(err)
	}
	list := snap.Sites()
	if asJSON {
		return c.printJSON(list)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tHOSTNAMES\tTIME ZONE")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.ID, hostList(s.Hostnames), s.TimeZone)
	}
	return c.flush(tw)
}

func sitesRemove(ctx context.Context, c *adminCmd, args []string) int {
	pos, code, ok := c.parse(args, 1, "one site ID")
	if !ok {
		return code
	}
	store, db, err := c.open(ctx)
	if err != nil {
		return c.failed(err)
	}
	defer db.Close()
	if err := store.RemoveSite(ctx, pos[0]); err != nil {
		return c.failed(err)
	}
	fmt.Fprintf(c.stdout, "removed site %s (its events and reports stay)\n", pos[0])
	return 0
}

// runKeys is the keys command.
func runKeys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return runAdmin(ctx, "keys", keysUsage, map[string]adminSub{
		"create": keysCreate, "list": keysList, "revoke": keysRevoke,
	}, args, getenv, stdout, stderr)
}

func keysCreate(ctx context.Context, c *adminCmd, args []string) int {
	var site, label string
	var admin bool
	c.fs.StringVar(&site, "site", "", "the site whose reports the key reads")
	c.fs.BoolVar(&admin, "admin", false, "a key for every site and the admin API")
	c.fs.StringVar(&label, "label", "", "a note to tell keys apart in sitelog keys list")
	if _, code, ok := c.parse(args, 0, ""); !ok {
		return code
	}
	if (site == "") == !admin {
		fmt.Fprintf(c.stderr, "sitelog %s: give --site ID or --admin\n", c.name)
		return 2
	}
	store, db, err := c.open(ctx)
	if err != nil {
		return c.failed(err)
	}
	defer db.Close()
	var key sites.Key
	var token string
	if admin {
		key, token, err = store.CreateAdminKey(ctx, label)
	} else {
		key, token, err = store.CreateSiteKey(ctx, site, label)
	}
	if err != nil {
		return c.failed(err)
	}
	// The token alone on stdout, so that TOKEN=$(sitelog keys create ...)
	// works; the rest on stderr.
	fmt.Fprintln(c.stdout, token)
	fmt.Fprintf(c.stderr, "created key %d (%s); its token is shown only this once: keep it somewhere safe\n", key.ID, key.Scope())
	return 0
}

func keysList(ctx context.Context, c *adminCmd, args []string) int {
	var asJSON bool
	c.fs.BoolVar(&asJSON, "json", false, "print a JSON array")
	if _, code, ok := c.parse(args, 0, ""); !ok {
		return code
	}
	store, db, err := c.open(ctx)
	if err != nil {
		return c.failed(err)
	}
	defer db.Close()
	snap, err := store.Snapshot(ctx)
	if err != nil {
		return c.failed(err)
	}
	keys := snap.Keys()
	if asJSON {
		type row struct {
			ID      int64     `json:"id"`
			Scope   string    `json:"scope"`
			Label   string    `json:"label"`
			Created time.Time `json:"created"`
		}
		rows := make([]row, len(keys))
		for i, k := range keys {
			rows[i] = row{k.ID, k.Scope(), k.Label, k.Created}
		}
		return c.printJSON(rows)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSCOPE\tLABEL\tCREATED")
	for _, k := range keys {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", k.ID, k.Scope(), k.Label, k.Created.Format(time.RFC3339))
	}
	return c.flush(tw)
}

func keysRevoke(ctx context.Context, c *adminCmd, args []string) int {
	pos, code, ok := c.parse(args, 1, "one key ID (from sitelog keys list)")
	if !ok {
		return code
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || id < 1 {
		fmt.Fprintf(c.stderr, "sitelog %s: %q is not a key ID (from sitelog keys list)\n", c.name, pos[0])
		return 2
	}
	store, db, err := c.open(ctx)
	if err != nil {
		return c.failed(err)
	}
	defer db.Close()
	if err := store.RevokeKey(ctx, id); err != nil {
		return c.failed(err)
	}
	fmt.Fprintf(c.stdout, "revoked key %d\n", id)
	return 0
}

func (c *adminCmd) printJSON(v any) int {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return c.failed(err)
	}
	return 0
}

func (c *adminCmd) flush(tw *tabwriter.Writer) int {
	if err := tw.Flush(); err != nil {
		return c.failed(err)
	}
	return 0
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// hostList shows a site's host names in one column.
func hostList(hosts []string) string {
	if len(hosts) == 0 {
		return "-"
	}
	return strings.Join(hosts, ",")
}
