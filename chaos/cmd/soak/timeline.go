package main

import (
	"bytes"
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/faultline/faultline/chaos"
)

// lanes are the fault panel's rows, one per dependency, top to bottom.
var lanes = []chaos.Dependency{chaos.Postgres, chaos.Redis, chaos.MaxAPI}

var laneColors = map[chaos.Dependency]color.RGBA{
	chaos.Postgres: {R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	chaos.Redis:    {R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	chaos.MaxAPI:   {R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
}

// timeline draws the run as one SVG: the faults as bands per dependency, and under them,
// on the same time axis, latency p50/p99, the share of answers other than 200, MAX's calls
// a second and the replicas' goroutines; violations are marked on the fault panel.
func (r *report) timeline() ([]byte, error) {
	end := r.Config.Duration.Seconds()
	faults := plot.New()
	faults.Title.Text = fmt.Sprintf("soak, seed %d: faults (bands) and violations (black marks)", r.Config.Seed)
	faults.Y.Min, faults.Y.Max = 0, float64(len(lanes))
	var ticks []plot.Tick
	for i, dep := range lanes {
		ticks = append(ticks, plot.Tick{Value: float64(len(lanes)-i) - 0.5, Label: string(dep)})
	}
	faults.Y.Tick.Marker = plot.ConstantTicks(ticks)
	for _, f := range r.Faults {
		lane := laneOf(f.Dep)
		if lane < 0 || f.Err != "" {
			continue
		}
		to := f.To.Seconds()
		if f.To == 0 {
			to = end
		}
		y0 := float64(len(lanes)-lane-1) + 0.1
		band, err := plotter.NewPolygon(plotter.XYs{{X: f.From.Seconds(), Y: y0}, {X: to, Y: y0}, {X: to, Y: y0 + 0.8}, {X: f.From.Seconds(), Y: y0 + 0.8}})
		if err != nil {
			return nil, err
		}
		band.Color = laneColors[f.Dep]
		band.Width = 0
		faults.Add(band)
	}
	if len(r.Violations) > 0 {
		var xys plotter.XYs
		for _, v := range r.Violations {
			xys = append(xys, plotter.XY{X: v.At.Seconds(), Y: float64(len(lanes)) / 2})
		}
		marks, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, err
		}
		marks.Shape = draw.PlusGlyph{}
		marks.Radius = vg.Points(6)
		faults.Add(marks)
	}

	latency := plot.New()
	latency.Y.Label.Text = "reads (ms)"
	errorsPlot := plot.New()
	errorsPlot.Y.Label.Text = "not 200 (%)"
	maxPlot := plot.New()
	maxPlot.Y.Label.Text = fmt.Sprintf("MAX calls/s (quota %d)", maxPerSecond)
	goroutines := plot.New()
	goroutines.Y.Label.Text = "goroutines"
	goroutines.X.Label.Text = "seconds from the start"
	var p50, p99, errs, gr, calls plotter.XYs
	for _, pt := range r.Series {
		x := float64(pt.T) + 0.5
		p50 = append(p50, plotter.XY{X: x, Y: pt.P50})
		p99 = append(p99, plotter.XY{X: x, Y: pt.P99})
		if pt.Requests > 0 {
			errs = append(errs, plotter.XY{X: x, Y: 100 * float64(pt.Errors) / float64(pt.Requests)})
		}
		calls = append(calls, plotter.XY{X: x, Y: float64(pt.MaxCalls)})
		if pt.Goroutines > 0 {
			gr = append(gr, plotter.XY{X: x, Y: float64(pt.Goroutines)})
		}
	}
	if err := addLine(latency, "p50", p50, color.RGBA{G: 0x80, A: 0xff}); err != nil {
		return nil, err
	}
	if err := addLine(latency, "p99", p99, color.RGBA{R: 0x80, B: 0x80, A: 0xff}); err != nil {
		return nil, err
	}
	latency.Legend.Top = true
	if err := addLine(errorsPlot, "", errs, color.RGBA{R: 0xc0, A: 0xff}); err != nil {
		return nil, err
	}
	if err := addLine(goroutines, "", gr, color.RGBA{B: 0xc0, A: 0xff}); err != nil {
		return nil, err
	}
	if err := addLine(maxPlot, "", calls, laneColors[chaos.MaxAPI]); err != nil {
		return nil, err
	}
	quota := plotter.NewFunction(func(float64) float64 { return maxPerSecond })
	quota.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
	maxPlot.Add(quota)
	peak := maxPerSecond
	for _, c := range calls {
		peak = max(peak, int(c.Y))
	}
	maxPlot.Y.Min, maxPlot.Y.Max = 0, float64(peak+5)

	panels := [][]*plot.Plot{{faults}, {latency}, {errorsPlot}, {maxPlot}, {goroutines}}
	for _, row := range panels {
		row[0].X.Min, row[0].X.Max = 0, end
	}
	img := vgsvg.New(28*vg.Centimeter, 26*vg.Centimeter)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadX: vg.Millimeter, PadY: 2 * vg.Millimeter, PadTop: vg.Millimeter, PadBottom: vg.Millimeter, PadLeft: vg.Millimeter, PadRight: 3 * vg.Millimeter}
	canvases := plot.Align(panels, tiles, dc)
	for i, row := range panels {
		row[0].Draw(canvases[i][0])
	}
	var buf bytes.Buffer
	if _, err := img.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func laneOf(dep chaos.Dependency) int {
	for i, d := range lanes {
		if d == dep {
			return i
		}
	}
	return -1
}

func addLine(p *plot.Plot, name string, xys plotter.XYs, c color.Color) error {
	if len(xys) == 0 {
		return nil
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return err
	}
	l.Color = c
	p.Add(l)
	if name != "" {
		p.Legend.Add(name, l)
	}
	return nil
}
