package dev.angzarr.examples.poker.player.bdd;

import static io.cucumber.junit.platform.engine.Constants.GLUE_PROPERTY_NAME;
import static io.cucumber.junit.platform.engine.Constants.PLUGIN_PROPERTY_NAME;

import org.junit.platform.suite.api.ConfigurationParameter;
import org.junit.platform.suite.api.IncludeEngines;
import org.junit.platform.suite.api.SelectFile;
import org.junit.platform.suite.api.Suite;

/**
 * Runs the shared specification, {@code features/player.feature} at the repository root (read in
 * place, never copied), against the Java player aggregate in-process. Surefire runs it from this
 * module's folder, three levels below the root.
 */
@Suite
@IncludeEngines("cucumber")
@SelectFile("../../../features/player.feature")
@ConfigurationParameter(key = GLUE_PROPERTY_NAME, value = "dev.angzarr.examples.poker.player.bdd")
@ConfigurationParameter(key = PLUGIN_PROPERTY_NAME, value = "dev.angzarr.examples.poker.player.bdd.StepKeywords")
public class RunPlayerFeatureTest {}
