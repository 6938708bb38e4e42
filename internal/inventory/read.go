package inventory

import (
	"bytes"
	"fmt"
)

// Read reads one input file in format f (FormatAuto: nmap when the file
// starts with XML, else batch and list lines alike). states are the nmap
// port states to import (see ParseNmap); text formats declare every line
// open.
func Read(name string, data []byte, f Format, states []string) ([]Entry, []Notice, Errors) {
	if f == FormatAuto {
		f = FormatAuto
		if bytes.HasPrefix(bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n"), []byte("<")) {
			f = FormatNmap
		}
	}
	switch f {
	case FormatNmap:
		return ParseNmap(name, data, states)
	case FormatAuto, FormatBatch, FormatList:
		e, errs := ParseText(name, data, f)
		return e, nil, errs
	}
	return nil, nil, Errors{{File: name, Msg: fmt.Sprintf("unknown format %q", f)}}
}
