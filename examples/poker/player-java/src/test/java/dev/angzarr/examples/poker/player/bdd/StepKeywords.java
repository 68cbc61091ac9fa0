package dev.angzarr.examples.poker.player.bdd;

import io.cucumber.plugin.ConcurrentEventListener;
import io.cucumber.plugin.event.EventPublisher;
import io.cucumber.plugin.event.PickleStepTestStep;
import io.cucumber.plugin.event.TestCaseStarted;
import io.cucumber.plugin.event.TestStepStarted;

/**
 * Tells step definitions whether the running step is a Given, a When or a Then ({@code And} and
 * {@code But} take the keyword before them), since features/README.md gives one step text two
 * meanings: a {@code Given} command must be accepted, a {@code When} command is recorded as the
 * last command. A concurrent listener hears each step start on the thread that then runs it.
 */
public final class StepKeywords implements ConcurrentEventListener {
  private static final ThreadLocal<String> CURRENT = ThreadLocal.withInitial(() -> "");

  @Override
  public void setEventPublisher(EventPublisher publisher) {
    publisher.registerHandlerFor(TestCaseStarted.class, event -> CURRENT.set(""));
    publisher.registerHandlerFor(TestStepStarted.class, event -> {
      if (event.getTestStep() instanceof PickleStepTestStep) {
        String keyword = ((PickleStepTestStep) event.getTestStep()).getStep().getKeyword().trim();
        if (!keyword.equals("And") && !keyword.equals("But") && !keyword.equals("*")) {
          CURRENT.set(keyword);
        }
      }
    });
  }

  /** {@code Given}, {@code When} or {@code Then} for the running step. */
  static String current() {
    return CURRENT.get();
  }

  /** Whether the running step is a {@code Given} (or an And/But after one). */
  static boolean inGiven() {
    String keyword = current();
    if (keyword.isEmpty()) {
      throw new IllegalStateException("StepKeywords plugin is not registered (cucumber.plugin)");
    }
    return keyword.equals("Given");
  }
}
