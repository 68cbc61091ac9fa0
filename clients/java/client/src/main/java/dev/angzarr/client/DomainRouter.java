package dev.angzarr.client;

import io.grpc.Status;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Picks the saga or projector a source book is for. The contracts name no component in the
 * request, so a server hosting one sends it every book (when it declared source domains, only
 * books of those); a server hosting several routes by the book's domain, and each must declare
 * disjoint source domains.
 */
final class DomainRouter<T extends Component> {
  private final String kind;
  private final List<T> components;
  private final Map<String, T> byDomain;

  DomainRouter(String kind, List<? extends T> components, Function<T, Set<String>> sources) {
    if (components.isEmpty()) {
      throw new IllegalArgumentException("no " + kind + " to serve");
    }
    this.kind = kind;
    this.components = List.copyOf(components);
    Set<String> names = new LinkedHashSet<>();
    Map<String, T> map = new LinkedHashMap<>();
    for (T component : components) {
      if (!names.add(component.name())) {
        throw new IllegalArgumentException("two " + kind + "s named `" + component.name() + "`");
      }
      Set<String> domains = sources.apply(component);
      if (domains.isEmpty() && components.size() > 1) {
        throw new IllegalArgumentException(kind + " `" + component.name() + "` must declare its source domains"
            + " with from(...): one server hosts several " + kind + "s and routes by domain");
      }
      for (String domain : domains) {
        T other = map.put(domain, component);
        if (other != null) {
          throw new IllegalArgumentException(kind + "s `" + other.name() + "` and `" + component.name()
              + "` both consume domain `" + domain + "`; serve them from separate servers");
        }
      }
    }
    this.byDomain = Collections.unmodifiableMap(map);
  }

  /** The component for books of {@code domain}; {@code NOT_FOUND} when none is. */
  T route(String domain) {
    if (byDomain.isEmpty()) {
      return components.get(0);
    }
    T component = byDomain.get(domain);
    if (component == null) {
      throw Status.NOT_FOUND
          .withDescription("no " + kind + " for source domain `" + domain + "` here (serving " + byDomain.keySet() + ")")
          .asRuntimeException();
    }
    return component;
  }

  List<T> components() {
    return components;
  }

  List<String> names() {
    return components.stream().map(Component::name).toList();
  }
}
