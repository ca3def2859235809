package dev.lora4j.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.style.Styler;

/** The benchmark's ratios as bars next to their goals. */
final class BenchCharts {
  private BenchCharts() {}

  public static void write(Path png, List<RuntimeBenchmark.Row> rows) throws IOException {
    List<RuntimeBenchmark.Row> ratios = rows.stream().filter(r -> r.unit().equals("x") && !r.goal().startsWith("("))
        .toList();
    CategoryChart c = new CategoryChartBuilder().width(1000).height(480)
        .title("lora4j runtime: measured ratio vs goal").yAxisTitle("ratio").build();
    c.getStyler().setLegendPosition(Styler.LegendPosition.InsideNE);
    c.getStyler().setXAxisLabelRotation(12);
    List<String> names = ratios.stream().map(r -> shorten(r.what())).toList();
    c.addSeries("measured", names, ratios.stream().map(r -> (Number) r.value()).toList());
    c.addSeries("goal", names, ratios.stream().map(r -> (Number) goal(r.goal())).toList());
    BitmapEncoder.saveBitmap(c, png.toString(), BitmapEncoder.BitmapFormat.PNG);
  }

  private static double goal(String g) {
    return Double.parseDouble(g.replaceAll("[^0-9.]", ""));
  }

  private static String shorten(String s) {
    return s.length() <= 34 ? s : s.substring(0, 33) + "…";
  }
}
