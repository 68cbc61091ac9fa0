package dev.angzarr.client.bdd;

import static io.cucumber.junit.platform.engine.Constants.GLUE_PROPERTY_NAME;

import org.junit.platform.suite.api.ConfigurationParameter;
import org.junit.platform.suite.api.IncludeEngines;
import org.junit.platform.suite.api.SelectFile;
import org.junit.platform.suite.api.Suite;

/**
 * Runs the shared specification {@code features/projector_batch.feature} at the repository root
 * (read in place, never copied) against a projector built with this library, served by {@link
 * dev.angzarr.client.AngzarrServer} on 127.0.0.1 and called over gRPC. Surefire runs it from this
 * module's folder, three levels below the root. Cucumber-JVM 7 is strict: an undefined or pending
 * step fails the run.
 */
@Suite
@IncludeEngines("cucumber")
@SelectFile("../../../features/projector_batch.feature")
@ConfigurationParameter(key = GLUE_PROPERTY_NAME, value = "dev.angzarr.client.bdd")
public class RunProjectorBatchFeatureTest {}
