package demo

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"
	"time"
)

// Plot is what WriteSVG draws.
type Plot struct {
	Start   time.Time
	Samples []Sample     // sorted by send time
	Marks   []Mark       // the demo's actions
	States  []NodeState  // sorted by time
	Steps   []StepResult // outages to shade
	Nodes   []string     // node names in colour order
	Noun    string       // what one request is ("insert"); "" means "request"
}

// Layout of the SVG, in pixels.
const (
	svgW      = 1200
	plotLeft  = 80
	plotRight = svgW - 30
	latTop    = 80
	latBottom = 370
	lossTop   = 382 // the "no answer" strip
	lossH     = 16
	stateTop  = 416 // one strip per node
	stateH    = 18
	stateGap  = 8
)

var nodeColours = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"}

const (
	lossColour   = "#d62728"
	faultColour  = "#d62728"
	backupColour = "#d9d9d9"
	outageColour = "#fbdada" // solid, not opacity: some renderers ignore it
)

// WriteSVG draws the client's view of the VIP over time: one point per
// answered request (latency, log scale, coloured by the node that
// answered), failed requests in a strip below, shaded outages with their
// length, a labelled vertical line at each demo action, and each node's
// reported state as a strip at the bottom. Hand-written SVG 1.1, no
// scripts or external resources.
func WriteSVG(w io.Writer, p Plot) error {
	bw := bufio.NewWriter(w)
	noun := p.Noun
	if noun == "" {
		noun = "request"
	}
	colour := map[string]string{}
	for i, n := range p.Nodes {
		colour[n] = nodeColours[i%len(nodeColours)]
	}
	end := p.Start.Add(time.Second)
	minLat, maxLat := math.Inf(1), 0.0
	for _, s := range p.Samples {
		if s.Done().After(end) {
			end = s.Done()
		}
		if s.OK {
			l := ms(s.Latency)
			minLat, maxLat = math.Min(minLat, l), math.Max(maxLat, l)
		}
	}
	for _, m := range p.Marks {
		if m.At.After(end) {
			end = m.At
		}
	}
	span := end.Sub(p.Start).Seconds()
	x := func(t time.Time) float64 {
		return plotLeft + (plotRight-plotLeft)*t.Sub(p.Start).Seconds()/span
	}
	// Latency axis: whole decades around the data, at least three.
	if math.IsInf(minLat, 1) {
		minLat, maxLat = 1, 1
	}
	lo := math.Floor(math.Log10(math.Max(minLat, 1e-3)))
	hi := math.Max(lo+3, math.Ceil(math.Log10(math.Max(maxLat, 1e-3))))
	y := func(latMS float64) float64 {
		v := math.Log10(math.Max(latMS, math.Pow(10, lo)))
		return latBottom - (latBottom-latTop)*(v-lo)/(hi-lo)
	}
	h := stateTop + len(p.Nodes)*(stateH+stateGap) + 40

	fmt.Fprintf(bw, `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">
<rect width="100%%" height="100%%" fill="white"/>
<text x="%d" y="28" font-size="17" font-weight="bold">milvus-ha demo: the client's view of the VIP</text>
<text x="%d" y="48" fill="#555">each point is one %s from the client host through the VIP (when sent, how long until answered), coloured by the node that answered; red: failed; shaded: outage</text>
`, svgW, h, svgW, h, plotLeft, plotLeft, html.EscapeString(noun))

	// Grid and axes.
	for d := lo; d <= hi; d++ {
		yy := y(math.Pow(10, d))
		fmt.Fprintf(bw, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>`+"\n", plotLeft, yy, plotRight, yy)
		fmt.Fprintf(bw, `<text x="%d" y="%.1f" text-anchor="end" fill="#555">%s</text>`+"\n", plotLeft-6, yy+4, latencyLabel(d))
	}
	step := tickStep(span)
	for t := 0.0; t <= span+1e-9; t += step {
		xx := plotLeft + (plotRight-plotLeft)*t/span
		fmt.Fprintf(bw, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#f2f2f2"/>`+"\n", xx, latTop, xx, latBottom)
		fmt.Fprintf(bw, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%gs</text>`+"\n", xx, h-18, t)
	}
	fmt.Fprintf(bw, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>`+"\n", plotLeft, latTop, plotRight-plotLeft, latBottom-latTop)
	fmt.Fprintf(bw, `<text x="18" y="%d" transform="rotate(-90 18 %d)" text-anchor="middle" fill="#555">latency (log scale)</text>`+"\n", (latTop+latBottom)/2, (latTop+latBottom)/2)
	fmt.Fprintf(bw, `<text x="%d" y="%d" text-anchor="end" fill="%s">failed</text>`+"\n", plotLeft-6, lossTop+lossH-4, lossColour)

	// Outages.
	for _, st := range p.Steps {
		for _, g := range st.Gaps {
			x0, x1 := x(g.From), x(g.To)
			fmt.Fprintf(bw, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", x0, latTop, math.Max(x1-x0, 1), lossTop+lossH-latTop, outageColour)
			fmt.Fprintf(bw, `<text x="%.1f" y="%d" text-anchor="middle" font-size="11" font-weight="bold" fill="%s">%.0f ms</text>`+"\n", (x0+x1)/2, latBottom-6, lossColour, ms(g.Len()))
		}
	}

	// Node state strips: each state lasts until the node's next one.
	for i, n := range p.Nodes {
		top := stateTop + i*(stateH+stateGap)
		fmt.Fprintf(bw, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", plotLeft-6, top+stateH-5, html.EscapeString(n))
		fmt.Fprintf(bw, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#ccc"/>`+"\n", plotLeft, top, plotRight-plotLeft, stateH)
		var cur *NodeState
		flush := func(until time.Time) {
			if cur == nil {
				return
			}
			fill := stateColour(cur.State, colour[n])
			if fill == "" {
				return
			}
			x0, x1 := x(cur.At), x(until)
			fmt.Fprintf(bw, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s %s</title></rect>`+"\n",
				x0, top, math.Max(x1-x0, 1), stateH, fill, html.EscapeString(n), html.EscapeString(cur.State))
			if x1-x0 > 50 {
				fmt.Fprintf(bw, `<text x="%.1f" y="%d" font-size="10" fill="%s">%s</text>`+"\n", x0+3, top+stateH-5, stateText(cur.State), html.EscapeString(cur.State))
			}
		}
		for j := range p.States {
			if p.States[j].Node != n {
				continue
			}
			flush(p.States[j].At)
			cur = &p.States[j]
		}
		flush(end)
	}

	// Requests.
	for _, s := range p.Samples {
		if !s.OK {
			fmt.Fprintf(bw, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="1.2"/>`+"\n", x(s.At), lossTop+2, x(s.At), lossTop+lossH-2, lossColour)
			continue
		}
		c := colour[s.ServedBy]
		if c == "" {
			c = "#7f7f7f"
		}
		fmt.Fprintf(bw, `<circle cx="%.1f" cy="%.1f" r="1.8" fill="%s"/>`+"\n", x(s.At), y(ms(s.Latency)), c)
	}

	// Demo actions: a vertical line with its label running down beside it.
	bottom := stateTop + len(p.Nodes)*(stateH+stateGap) - stateGap
	for _, m := range p.Marks {
		xx := x(m.At)
		fmt.Fprintf(bw, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#333" stroke-dasharray="4,3"/>`+"\n", xx, latTop-4, xx, bottom)
		fmt.Fprintf(bw, `<text x="%.1f" y="%d" transform="rotate(90 %.1f %d)" font-size="11" fill="#333" stroke="white" stroke-width="3" paint-order="stroke">%s</text>`+"\n", xx+4, latTop+4, xx+4, latTop+4, html.EscapeString(m.Label))
	}

	// Legend.
	lx := plotRight - 120*len(p.Nodes) - 180
	for i, n := range p.Nodes {
		fmt.Fprintf(bw, `<circle cx="%d" cy="64" r="4" fill="%s"/><text x="%d" y="68">answered by %s</text>`+"\n", lx+i*120, colour[n], lx+i*120+8, html.EscapeString(n))
	}
	lx += 120 * len(p.Nodes)
	fmt.Fprintf(bw, `<line x1="%d" y1="58" x2="%d" y2="70" stroke="%s" stroke-width="1.5"/><text x="%d" y="68">failed</text>`+"\n", lx, lx, lossColour, lx+8)
	fmt.Fprintf(bw, `<rect x="%d" y="58" width="12" height="12" fill="%s" stroke="%s" stroke-width="0.5"/><text x="%d" y="68">outage</text>`+"\n", lx+95, outageColour, lossColour, lx+111)
	fmt.Fprintln(bw, "</svg>")
	return bw.Flush()
}

// stateColour fills a node's state strip: its own colour while MASTER.
func stateColour(state, own string) string {
	switch state {
	case "MASTER":
		return own
	case "BACKUP":
		return backupColour
	case "FAULT":
		return faultColour
	case "KILLED":
		return "#444"
	}
	return ""
}

func stateText(state string) string {
	if state == "BACKUP" {
		return "#333"
	}
	return "white"
}

func latencyLabel(decade float64) string {
	v := math.Pow(10, decade)
	if v >= 1000 {
		return fmt.Sprintf("%g s", v/1000)
	}
	return fmt.Sprintf("%g ms", v)
}

// tickStep picks a time-axis step giving at most ~25 ticks.
func tickStep(span float64) float64 {
	for _, s := range []float64{0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300} {
		if span/s <= 25 {
			return s
		}
	}
	return 600
}
