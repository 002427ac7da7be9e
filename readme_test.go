package caches

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// snippetImports are the packages a README snippet may use without
// importing them: the test adds an import for each one the snippet names.
var snippetImports = map[string]string{
	"caches":     "github.com/gocaches/caches",
	"cachestest": "github.com/gocaches/caches/cachestest",
	"context":    "context",
	"errors":     "errors",
	"fmt":        "fmt",
	"redis":      "github.com/redis/go-redis/v9",
	"slog":       "log/slog",
	"testing":    "testing",
	"time":       "time",
}

var goFence = regexp.MustCompile("(?s)```go\n(.*?)```")

// TestReadmeSnippetsCompile checks that every fenced go block of README.md
// compiles and passes go vet. The blocks are declarations that together make
// one package, as an application's files would; each is a file of its own,
// given the imports of the packages it names.
func TestReadmeSnippetsCompile(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := goFence.FindAllStringSubmatch(string(readme), -1)
	if len(blocks) == 0 {
		t.Fatal("README.md has no go blocks: the pattern no longer matches its fences")
	}
	dir := snippetDir(t)
	for i, b := range blocks {
		name := "snippet" + strconv.Itoa(i+1) + ".go"
		if strings.Contains(b[1], "func Test") {
			name = "snippet" + strconv.Itoa(i+1) + "_test.go"
		}
		src, err := snippetFile(b[1])
		if err != nil {
			t.Fatalf("README go block %d: %v\n%s", i+1, err, b[1])
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to vet the README's snippets: %v", err)
	}
	out, err := exec.Command(goTool, "vet", "./"+filepath.ToSlash(dir)).CombinedOutput()
	if err != nil {
		t.Fatalf("README go blocks do not vet: %v\n%s", err, out)
	}
}

// snippetDir makes a package directory under testdata, which the go
// command leaves out of ./... but builds when named, inside this module so
// that the snippets import this version of it.
func snippetDir(t *testing.T) string {
	t.Helper()
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("testdata", "readme-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// snippetFile turns a block of declarations into a Go file of package
// readme, importing the packages of snippetImports that it names.
func snippetFile(block string) (string, error) {
	body := "package readme\n\n" + block
	f, err := parser.ParseFile(token.NewFileSet(), "snippet.go", body, 0)
	if err != nil {
		return "", err
	}
	var imports []string
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok && snippetImports[id.Name] != "" && !slices.Contains(imports, id.Name) {
				imports = append(imports, id.Name)
			}
		}
		return true
	})
	slices.Sort(imports)
	var b strings.Builder
	b.WriteString("package readme\n\nimport (\n")
	for _, name := range imports {
		b.WriteString("\t" + strconv.Quote(snippetImports[name]) + "\n")
	}
	b.WriteString(")\n\n" + block)
	return b.String(), nil
}
